"""Rule site_overview: one row per site from released aggregates."""

from fedheme.pipeline import logged, overview_job

with logged(snakemake.log[0]):
    overview_job(list(snakemake.input), snakemake.output[0])
