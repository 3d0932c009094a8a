"""Rule site_overview: one row per site from released aggregates."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.pipeline import logged, overview_job

with logged(snakemake.log[0]):
    overview_job(list(snakemake.input), snakemake.output[0])
