"""Rule evaluate_transplant_site: a held-out site evaluates a fold's transplant models on its
own patients (fedheme.treatment.evaluation)."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.jobs import logged
from fedheme.jobs.treatment import evaluate_transplant_site_job

with logged(snakemake.log[0]):
    evaluate_transplant_site_job(
        models=snakemake.input.models,
        patients=snakemake.input.patients,
        scores=snakemake.input.scores,
        disease_name=snakemake.wildcards.disease,
        disease=snakemake.params.disease,
        training=snakemake.params.training,
        evaluation=snakemake.params.evaluation,
        privacy=snakemake.params.privacy,
        transplant=snakemake.params.transplant,
        site_id=snakemake.wildcards.site,
        out_validation=snakemake.output.validation,
        out_rmst=snakemake.output.rmst,
    )
