"""Rules of figures.smk: one validation figure of one disease from its released table."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.pipeline import figure_job, logged

with logged(snakemake.log[0]):
    figure_job(
        snakemake.params.kind,
        snakemake.input[0],
        snakemake.wildcards.disease,
        snakemake.params.endpoint,
        snakemake.params.binary,
        snakemake.params.training,
        snakemake.params.evaluation,
        snakemake.params.figures,
        snakemake.params.min_cell_count,
        snakemake.output.png,
        snakemake.output.pdf,
    )
