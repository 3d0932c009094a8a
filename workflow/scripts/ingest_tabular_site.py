"""Rule ingest_tabular_site: check and harmonise one site's CSV of a tabular disease."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.jobs import logged
from fedheme.jobs.ingest import ingest_tabular_site_job

with logged(snakemake.log[0]):
    ingest_tabular_site_job(
        site_id=snakemake.wildcards.site,
        patients=snakemake.input.patients,
        disease=snakemake.params.disease,
        test_fraction=snakemake.params.test_fraction,
        seed=snakemake.params.seed,
        max_errors=snakemake.params.max_errors,
        randomness=snakemake.params.randomness,
        out_patients=snakemake.output.patients,
        out_qc_json=snakemake.output.qc_json,
        out_qc_md=snakemake.output.qc_md,
    )
