"""Rule site_training_release: the aggregates a site releases before training."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.jobs import logged
from fedheme.jobs.train import training_release_job

with logged(snakemake.log[0]):
    training_release_job(
        patients=snakemake.input.patients,
        disease_name=snakemake.wildcards.disease,
        disease=snakemake.params.disease,
        training=snakemake.params.training,
        site_id=snakemake.wildcards.site,
        subset=snakemake.wildcards.subset,
        mode=snakemake.wildcards.mode,
        seed=snakemake.params.seed,
        privacy=snakemake.params.privacy,
        out=snakemake.output[0],
        diagnosis=snakemake.params.get("diagnosis"),
    )
