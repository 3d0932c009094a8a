# Stage 2, one job per site: validate the site's export in its dialect, harmonise it,
# assign the within-site train/test split and write the QC report, all in the site's
# private folder. An invalid export fails with every problem listed and writes nothing.


rule ingest_site:
    input:
        unpack(export_files),
    output:
        patients="results/{disease}/sites/{site}/private/patients.parquet",
        variants="results/{disease}/sites/{site}/private/variants.parquet",
        qc_json="results/{disease}/sites/{site}/private/qc_report.json",
        qc_md="results/{disease}/sites/{site}/private/qc_report.md",
        qc_flags="results/{disease}/sites/{site}/private/qc_flags.tsv",
    log:
        "results/logs/ingest_site/{disease}/{site}.log",
    benchmark:
        "results/benchmarks/ingest_site/{disease}/{site}.tsv"
    wildcard_constraints:
        disease=IWGPM_DISEASES,
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        dialect=lambda w: site_row(w)["dialect"],
        stratify_on=lambda w: disease_config(w)["primary_endpoint"] + "_status",
        test_fraction=config["split"]["test_fraction"],
        seed=config["split"]["seed"],
        max_errors=config["qc"]["max_errors"],
        randomness=config["privacy"]["randomness"],
    script:
        "../scripts/ingest_site.py"


# Tabular diseases: check the site's CSV against the declared columns (every problem with
# file, line and column; nothing written on failure), keep its split column or draw one
# stratified by event, and write the QC report, in the site's private folder.
rule ingest_tabular_site:
    input:
        unpack(export_files),
    output:
        patients="results/{disease}/sites/{site}/private/patients.parquet",
        qc_json="results/{disease}/sites/{site}/private/qc_report.json",
        qc_md="results/{disease}/sites/{site}/private/qc_report.md",
    log:
        "results/logs/ingest_site/{disease}/{site}.log",
    benchmark:
        "results/benchmarks/ingest_site/{disease}/{site}.tsv"
    wildcard_constraints:
        disease=TABULAR_DISEASES,
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        disease=lambda w: disease_config(w),
        test_fraction=config["split"]["test_fraction"],
        seed=config["split"]["seed"],
        max_errors=config["qc"]["max_errors"],
        randomness=config["privacy"]["randomness"],
    script:
        "../scripts/ingest_tabular_site.py"
