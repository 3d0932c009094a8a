"""Rule evaluate_site: a fold's models and the clinical scores evaluated at one test site."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.jobs import logged
from fedheme.jobs.evaluate import evaluate_site_job

with logged(snakemake.log[0]):
    evaluate_site_job(
        models=snakemake.input.models,
        patients=snakemake.input.patients,
        scores=snakemake.input.scores,
        disease_name=snakemake.wildcards.disease,
        disease=snakemake.params.disease,
        training=snakemake.params.training,
        evaluation=snakemake.params.evaluation,
        figures=snakemake.params.figures,
        privacy=snakemake.params.privacy,
        site_id=snakemake.wildcards.site,
        endpoint=snakemake.wildcards.endpoint,
        fold=snakemake.wildcards.fold,
        out_metrics=snakemake.output.metrics,
        out_calibration=snakemake.output.calibration,
        out_km=snakemake.output.km,
        out_ledger=snakemake.output.ledger,
        out_predictions=snakemake.output.predictions,
    )
