"""Rule site_heterogeneity_figure: the site-heterogeneity figure from released aggregates."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.jobs import logged
from fedheme.jobs.overview import heterogeneity_figure_job

with logged(snakemake.log[0]):
    heterogeneity_figure_job(
        aggregates=list(snakemake.input),
        min_cell_count=snakemake.params.min_cell_count,
        features=snakemake.params.features,
        release_mode=snakemake.params.release_mode,
        out_png=snakemake.output.png,
        out_pdf=snakemake.output.pdf,
    )
