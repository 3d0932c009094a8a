"""Rules site_training_release and site_marrow_release: the aggregates a site releases
before training (every release mode in one file)."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.jobs import logged
from fedheme.jobs.train import training_releases_job

with logged(snakemake.log[0]):
    training_releases_job(
        patients=snakemake.input.patients,
        disease_name=snakemake.wildcards.disease,
        disease=snakemake.params.disease,
        training=snakemake.params.training,
        site_id=snakemake.wildcards.site,
        subset=snakemake.wildcards.subset,
        modes=snakemake.params.modes,
        seed=snakemake.params.seed,
        privacy=snakemake.params.privacy,
        out=snakemake.output[0],
        diagnosis=snakemake.params.get("diagnosis"),
    )
