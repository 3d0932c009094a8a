"""Rule combine_aggregates: pool released aggregates into global statistics."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.pipeline import combine_job, logged

with logged(snakemake.log[0]):
    combine_job(list(snakemake.input), snakemake.params.features, snakemake.wildcards.scope, snakemake.output[0])
