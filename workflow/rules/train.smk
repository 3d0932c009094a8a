# Federated training with differential privacy: each site releases its preprocessing
# aggregates (of all its patients or of its training split; exactly, or with Gaussian
# noise for DP runs: every mode in one file) in its own job; one job per (endpoint, fold) trains every strategy,
# epsilon and seed of the grid plus the pooled and local-only baselines and writes the
# final weights to a model bundle (no held-out patient is read); the privacy ledger follows.


rule site_training_release:
    input:
        patients="results/{disease}/sites/{site}/private/patients.parquet",
    output:
        "results/{disease}/sites/{site}/shared/training_release_{subset}.json",
    log:
        "results/logs/site_training_release/{disease}/{site}_{subset}.log",
    benchmark:
        "results/benchmarks/site_training_release/{disease}/{site}_{subset}.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        disease=lambda w: disease_config(w),
        training=lambda w: training_of(w.disease),
        modes=lambda w: release_modes(w.disease),
        seed=config["split"]["seed"],
        privacy=config["privacy"],
    script:
        "../scripts/site_training_release.py"


rule train_fold:
    input:
        unpack(train_fold_inputs),
    output:
        models="results/{disease}/training/{endpoint}/{fold}/models.pt",
        ledger="results/{disease}/training/{endpoint}/{fold}/ledger.tsv",
        rounds="results/{disease}/training/{endpoint}/{fold}/rounds.tsv",
    log:
        "results/logs/train_fold/{disease}/{endpoint}_{fold}.log",
    benchmark:
        "results/benchmarks/train_fold/{disease}/{endpoint}_{fold}.tsv"
    conda:
        "../../envs/train.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=lambda w: (
            1 if fold_training(w.disease, w.endpoint)["device"] == "gpu" else 0
        ),
    params:
        disease=lambda w: disease_config(w),
        training=lambda w: fold_training(w.disease, w.endpoint),
        train_sites=lambda w: fold_train_sites(w.disease, w.fold),
        modes=lambda w: release_modes(w.disease, w.endpoint),
        # the transplant study (endpoint 'hsct'): transplant as a time-dependent treatment
        transplant=lambda w: transplant_of(w.disease) if w.endpoint == "hsct" else None,
        # the marrow-blast classifier (endpoint 'marrow_blasts'): softmax over categories
        diagnosis=lambda w: (
            diagnosis_of(w.disease) if w.endpoint == "marrow_blasts" else None
        ),
        checkpoints="results/{disease}/training/{endpoint}/{fold}/checkpoints",
        # noise calibrations: public numbers only, shared by the folds
        calibration_cache="results/cache/noise_calibration",
        privacy=config["privacy"],
    script:
        "../scripts/train_fold.py"


ruleorder: import_network_fold > train_fold


# A fold trained over a networked federation (config network.folds, fedheme coordinate):
# its bundle, ledger and rounds checked and put where train_fold's would be, so that the
# test sites evaluate it and the figures report it like a simulated training.
rule import_network_fold:
    input:
        unpack(network_fold_inputs),
    output:
        models="results/{disease}/training/{endpoint}/{fold}/models.pt",
        ledger="results/{disease}/training/{endpoint}/{fold}/ledger.tsv",
        rounds="results/{disease}/training/{endpoint}/{fold}/rounds.tsv",
    log:
        "results/logs/import_network_fold/{disease}/{endpoint}_{fold}.log",
    benchmark:
        "results/benchmarks/import_network_fold/{disease}/{endpoint}_{fold}.tsv"
    conda:
        "../../envs/train.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        training=lambda w: fold_training(w.disease, w.endpoint),
        train_sites=lambda w: fold_train_sites(w.disease, w.fold),
    script:
        "../scripts/import_network_fold.py"


rule privacy_ledger:
    input:
        all_training_outputs("ledger.tsv")
        + evaluation_outputs("ledger.tsv")
        + transplant_release_outputs("ledger.tsv"),
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
    params:
        folds=training_output_keys()
        + evaluation_output_keys()
        + transplant_release_keys(),
    script:
        "../scripts/privacy_ledger.py"


# Each site's epsilon over the whole study: every release once and every DP-SGD step of
# every run composed, recomputed independently with dp-accounting; infinite where a site's
# patients were also released without noise (research mode).
rule study_budget:
    input:
        "results/privacy/ledger.tsv",
    output:
        report(
            "results/privacy/study.tsv",
            caption="../report/study_budget.rst",
            category="Privacy",
        ),
    log:
        "results/logs/study_budget/study_budget.log",
    benchmark:
        "results/benchmarks/study_budget/study_budget.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        non_private_releases=non_private_releases(),
        planned=planned_totals(),
    script:
        "../scripts/study_budget.py"
