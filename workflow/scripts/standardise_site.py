"""Rule standardise_site: standardise one site's features with global statistics."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.pipeline import logged, standardise_job

with logged(snakemake.log[0]):
    standardise_job(snakemake.input.patients, snakemake.input.stats, snakemake.params.features, snakemake.output[0])
