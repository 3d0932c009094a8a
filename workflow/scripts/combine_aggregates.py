"""Rule combine_aggregates: pool released aggregates into global statistics."""

from fedheme.pipeline import combine_job, logged

with logged(snakemake.log[0]):
    combine_job(list(snakemake.input), snakemake.params.features, snakemake.wildcards.scope, snakemake.output[0])
