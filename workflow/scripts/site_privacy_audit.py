"""Rule site_privacy_audit: membership inference and canary auditing at one site
(fedheme.audit.site)."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.jobs import logged
from fedheme.jobs.audit import site_audit_job

with logged(snakemake.log[0]):
    site_audit_job(
        models=snakemake.input.models,
        patients=snakemake.input.patients,
        release=snakemake.input.release,
        disease_name=snakemake.wildcards.disease,
        disease=snakemake.params.disease,
        training=snakemake.params.training,
        evaluation=snakemake.params.evaluation,
        figures=snakemake.params.figures,
        privacy=snakemake.params.privacy,
        site_id=snakemake.wildcards.site,
        out_audit=snakemake.output.audit,
        out_roc=snakemake.output.roc,
        calibration_cache=snakemake.params.calibration_cache,
    )
