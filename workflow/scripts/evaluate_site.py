"""Rule evaluate_site: a fold's models and the clinical scores evaluated at one test site."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.pipeline import evaluate_site_job, logged

with logged(snakemake.log[0]):
    evaluate_site_job(
        snakemake.input.models,
        snakemake.input.patients,
        snakemake.input.scores,
        snakemake.wildcards.disease,
        snakemake.params.disease,
        snakemake.params.training,
        snakemake.params.evaluation,
        snakemake.params.figures,
        snakemake.params.min_cell_count,
        snakemake.wildcards.site,
        snakemake.output.metrics,
        snakemake.output.replicates,
        snakemake.output.calibration,
        snakemake.output.km,
        snakemake.output.predictions,
    )
