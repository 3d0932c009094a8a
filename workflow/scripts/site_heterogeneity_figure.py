"""Rule site_heterogeneity_figure: the site-heterogeneity figure from released aggregates."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.pipeline import heterogeneity_job, logged

with logged(snakemake.log[0]):
    heterogeneity_job(list(snakemake.input), snakemake.output.png, snakemake.output.pdf, snakemake.params.min_cell_count)
