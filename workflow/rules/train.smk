# Federated training with differential privacy: each site releases its preprocessing
# aggregates (exactly, or with Gaussian noise for DP runs) in its own job; one job per
# (endpoint, held-out site) trains every strategy, epsilon and seed of the grid plus the
# pooled and local-only baselines; the privacy ledger and the C-index table follow.


rule site_training_release:
    input:
        patients="results/{disease}/sites/{site}/private/patients.parquet",
    output:
        "results/{disease}/sites/{site}/shared/training_release_{mode}.json",
    log:
        "results/logs/site_training_release/{disease}/{site}_{mode}.log",
    benchmark:
        "results/benchmarks/site_training_release/{disease}/{site}_{mode}.tsv"
    wildcard_constraints:
        mode="exact|dp",
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        disease=lambda w: disease_config(w),
        training=config["training"],
        seed=config["split"]["seed"],
    script:
        "../scripts/site_training_release.py"


rule train_fold:
    input:
        unpack(train_fold_inputs),
    output:
        metrics="results/{disease}/training/{endpoint}/loso-{site}/metrics.tsv",
        ledger="results/{disease}/training/{endpoint}/loso-{site}/ledger.tsv",
        rounds="results/{disease}/training/{endpoint}/loso-{site}/rounds.tsv",
    log:
        "results/logs/train_fold/{disease}/{endpoint}_{site}.log",
    benchmark:
        "results/benchmarks/train_fold/{disease}/{endpoint}_{site}.tsv"
    conda:
        "../../envs/train.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=1 if config["training"]["device"] == "gpu" else 0,
    params:
        disease=lambda w: disease_config(w),
        training=config["training"],
        sites=lambda w: sites_of(w.disease),
        checkpoints="results/{disease}/training/{endpoint}/loso-{site}/checkpoints",
    script:
        "../scripts/train_fold.py"


rule privacy_ledger:
    input:
        all_training_outputs("ledger"),
    output:
        report(
            "results/privacy/ledger.tsv",
            caption="../report/privacy_ledger.rst",
            category="Privacy",
        ),
    log:
        "results/logs/privacy_ledger/ledger.log",
    benchmark:
        "results/benchmarks/privacy_ledger/ledger.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/concat_tables.py"


rule loso_table:
    input:
        lambda w: training_outputs(w.disease, "metrics"),
    output:
        report(
            "results/{disease}/tables/loso_cindex.tsv",
            caption="../report/loso_cindex.rst",
            category="Validation",
        ),
    log:
        "results/logs/loso_table/{disease}.log",
    benchmark:
        "results/benchmarks/loso_table/{disease}.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/loso_table.py"
