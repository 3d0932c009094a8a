"""Rule transplant_tables: the transplant study's tables and figure, across sites from
released files only (fedheme.treatment.pooling)."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.jobs import logged
from fedheme.jobs.treatment import transplant_tables_job

with logged(snakemake.log[0]):
    transplant_tables_job(
        validation=list(snakemake.input.validation),
        rmst=list(snakemake.input.rmst),
        releases=list(snakemake.input.releases),
        models=snakemake.input.models,
        transplant=snakemake.params.transplant,
        confidence=snakemake.params.confidence,
        out_validation=snakemake.output.validation,
        out_rmst=snakemake.output.rmst,
        out_effects=snakemake.output.effects,
        out_counts=snakemake.output.counts,
        out_png=snakemake.output.png,
        out_pdf=snakemake.output.pdf,
    )
