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


# The marrow-blast classifier: each site releases the aggregates of the classifier's
# features (its own releases, exact and DP per seed, like site_training_release); train_fold
# trains it with endpoint 'marrow_blasts'; each test site evaluates its folds in one job.


rule site_marrow_release:
    input:
        patients="results/{disease}/sites/{site}/private/patients.parquet",
    output:
        "results/{disease}/sites/{site}/shared/marrow_blasts_release_{subset}.json",
    log:
        "results/logs/site_marrow_release/{disease}/{site}_{subset}.log",
    benchmark:
        "results/benchmarks/site_marrow_release/{disease}/{site}_{subset}.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        disease=lambda w: disease_config(w),
        training=lambda w: fold_training(w.disease, "marrow_blasts"),
        modes=lambda w: release_modes(w.disease, "marrow_blasts"),
        seed=config["split"]["seed"],
        privacy=config["privacy"],
        diagnosis=lambda w: diagnosis_of(w.disease),
    script:
        "../scripts/site_training_release.py"


rule evaluate_marrow_site:
    input:
        unpack(diagnosis_site_models),
        patients="results/{disease}/sites/{site}/private/patients.parquet",
    output:
        metrics="results/{disease}/sites/{site}/shared/evaluation/marrow_blasts_metrics.tsv",
        calibration="results/{disease}/sites/{site}/shared/evaluation/marrow_blasts_calibration.tsv",
        predictions="results/{disease}/sites/{site}/private/predictions/marrow_blasts.parquet",
    log:
        "results/logs/evaluate_marrow_site/{disease}/{site}.log",
    benchmark:
        "results/benchmarks/evaluate_marrow_site/{disease}/{site}.tsv"
    conda:
        "../../envs/train.yaml"
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        folds=lambda w: list(diagnosis_site_models(w)),
        diagnosis=lambda w: diagnosis_of(w.disease),
        training=lambda w: fold_training(w.disease, "marrow_blasts"),
        evaluation=config["evaluation"],
        figures=config["figures"],
        privacy=config["privacy"],
    script:
        "../scripts/evaluate_marrow_site.py"


rule marrow_blast_tables:
    input:
        metrics=lambda w: [
            f"results/{w.disease}/sites/{s}/shared/evaluation/marrow_blasts_metrics.tsv"
            for s in sites_of(w.disease)
        ],
        calibration=lambda w: [
            f"results/{w.disease}/sites/{s}/shared/evaluation/marrow_blasts_calibration.tsv"
            for s in sites_of(w.disease)
        ],
    output:
        metrics=report(
            "results/{disease}/tables/marrow_blasts_metrics.tsv",
            caption="../report/marrow_blasts.rst",
            category="Diagnosis",
        ),
        summary="results/{disease}/tables/marrow_blasts_summary.tsv",
        calibration="results/{disease}/tables/marrow_blasts_calibration.tsv",
        png=report(
            "results/{disease}/figures/marrow_blasts.png",
            caption="../report/marrow_blasts.rst",
            category="Diagnosis",
        ),
        pdf="results/{disease}/figures/marrow_blasts.pdf",
    log:
        "results/logs/marrow_blast_tables/{disease}.log",
    benchmark:
        "results/benchmarks/marrow_blast_tables/{disease}.tsv"
    conda:
        "../../envs/plot.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        cuts=lambda w: diagnosis_of(w.disease)["cuts"],
        confidence=config["evaluation"]["confidence"],
    script:
        "../scripts/marrow_blast_tables.py"
