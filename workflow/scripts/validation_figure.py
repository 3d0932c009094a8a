"""The figure rules of figures.smk (one per entry of fedheme.report.catalogue.FIGURES):
one validation figure of one disease from its released table."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.jobs import logged
from fedheme.jobs.figures import figure_job

with logged(snakemake.log[0]):
    figure_job(
        figure=snakemake.params.figure,
        table=snakemake.input[0],
        disease=snakemake.wildcards.disease,
        endpoint=snakemake.params.endpoint,
        binary=snakemake.params.binary,
        training=snakemake.params.training,
        evaluation=snakemake.params.evaluation,
        figures=snakemake.params.figures,
        min_cell_count=snakemake.params.min_cell_count,
        out_png=snakemake.output.png,
        out_pdf=snakemake.output.pdf,
    )
