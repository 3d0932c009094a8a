"""Rule site_overview: one row per site from released aggregates."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.jobs import logged
from fedheme.jobs.overview import site_overview_job

with logged(snakemake.log[0]):
    site_overview_job(
        aggregates=list(snakemake.input),
        features=snakemake.params.features,
        release_mode=snakemake.params.release_mode,
        out=snakemake.output[0],
    )
