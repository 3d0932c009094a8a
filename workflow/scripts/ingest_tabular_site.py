"""Rule ingest_tabular_site: check and harmonise one site's CSV of a tabular disease."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.pipeline import ingest_tabular_site_job, logged

with logged(snakemake.log[0]):
    ingest_tabular_site_job(
        snakemake.input.patients,
        snakemake.params.disease,
        snakemake.wildcards.site,
        snakemake.params.test_fraction,
        snakemake.params.seed,
        snakemake.params.max_errors,
        snakemake.output.patients,
        snakemake.output.qc_json,
        snakemake.output.qc_md,
    )
