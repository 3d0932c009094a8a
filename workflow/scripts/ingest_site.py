"""Rule ingest_site: validate and harmonise one MDS site's export (see fedheme.data.iwgpm.ingest)."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.jobs import logged
from fedheme.jobs.ingest import ingest_site_job

with logged(snakemake.log[0]):
    ingest_site_job(
        site_id=snakemake.wildcards.site,
        patients=snakemake.input.patients,
        variants=snakemake.input.get("variants"),
        dialect=snakemake.params.dialect,
        stratify_on=snakemake.params.stratify_on,
        test_fraction=snakemake.params.test_fraction,
        seed=snakemake.params.seed,
        max_errors=snakemake.params.max_errors,
        randomness=snakemake.params.randomness,
        out_patients=snakemake.output.patients,
        out_variants=snakemake.output.variants,
        out_qc_json=snakemake.output.qc_json,
        out_qc_md=snakemake.output.qc_md,
        out_qc_flags=snakemake.output.qc_flags,
    )
