"""Rule ingest_site: validate and harmonise one site's export (see fedheme.ingest)."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.ingest import IngestOutputs, ingest_site
from fedheme.pipeline import logged

with logged(snakemake.log[0]) as log:
    summary = ingest_site(
        snakemake.wildcards.site,
        snakemake.input.patients,
        snakemake.input.get("variants"),
        snakemake.params.dialect,
        IngestOutputs(
            snakemake.output.patients,
            snakemake.output.variants,
            snakemake.output.qc_json,
            snakemake.output.qc_md,
            snakemake.output.qc_flags,
        ),
        stratify_on=snakemake.params.stratify_on,
        test_fraction=snakemake.params.test_fraction,
        seed=snakemake.params.seed,
        max_errors=snakemake.params.max_errors,
    )
    log.info("%s: %d patients harmonised", snakemake.wildcards.site, summary["n_patients"])
