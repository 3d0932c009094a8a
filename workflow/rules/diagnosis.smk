# Diagnosis: each MDS site classifies its patients by WHO 2022 and ICC 2022 (labels stay in
# its private folder) and releases a suppressed cross-tabulation with WHO 2016; the
# reclassification table and figure are pooled from those releases.


rule site_classification:
    input:
        patients="results/{disease}/sites/{site}/private/patients.parquet",
        variants="results/{disease}/sites/{site}/private/variants.parquet",
    output:
        labels="results/{disease}/sites/{site}/private/classification.parquet",
        release="results/{disease}/sites/{site}/shared/classification_crosstab.json",
    log:
        "results/logs/site_classification/{disease}/{site}.log",
    benchmark:
        "results/benchmarks/site_classification/{disease}/{site}.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        min_cell_count=config["privacy"]["min_cell_count"],
    script:
        "../scripts/site_classification.py"


rule reclassification_table:
    input:
        lambda w: [
            f"results/{w.disease}/sites/{s}/shared/classification_crosstab.json"
            for s in sites_of(w.disease)
        ],
    output:
        table=report(
            "results/{disease}/tables/reclassification.tsv",
            caption="../report/reclassification.rst",
            category="Diagnosis",
        ),
        png=report(
            "results/{disease}/figures/reclassification.png",
            caption="../report/reclassification.rst",
            category="Diagnosis",
        ),
        pdf="results/{disease}/figures/reclassification.pdf",
    log:
        "results/logs/reclassification_table/{disease}.log",
    benchmark:
        "results/benchmarks/reclassification_table/{disease}.tsv"
    conda:
        "../../envs/plot.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/reclassification_table.py"
