"""Rule site_training_release: the aggregates a site releases before training."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.pipeline import logged, training_release_job

with logged(snakemake.log[0]):
    training_release_job(
        snakemake.input.patients,
        snakemake.params.disease,
        snakemake.params.training,
        snakemake.wildcards.site,
        snakemake.wildcards.subset,
        snakemake.wildcards.mode,
        snakemake.params.seed,
        snakemake.output[0],
    )
