"""Rule evaluate_marrow_site: a test site evaluates the marrow-blast classifier's folds on its
own patients (fedheme.diagnosis.marrow_evaluation)."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.jobs import logged
from fedheme.jobs.diagnosis import evaluate_marrow_site_job

with logged(snakemake.log[0]):
    evaluate_marrow_site_job(
        models={fold: snakemake.input[fold] for fold in snakemake.params.folds},
        patients=snakemake.input.patients,
        disease_name=snakemake.wildcards.disease,
        diagnosis=snakemake.params.diagnosis,
        training=snakemake.params.training,
        evaluation=snakemake.params.evaluation,
        figures=snakemake.params.figures,
        privacy=snakemake.params.privacy,
        site_id=snakemake.wildcards.site,
        out_metrics=snakemake.output.metrics,
        out_calibration=snakemake.output.calibration,
        out_predictions=snakemake.output.predictions,
    )
