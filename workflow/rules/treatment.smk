# Treatment decision: when to transplant (allogeneic HSCT) in MDS. Each site releases how
# many of its patients were transplanted by IPSS-M category (DP count table); the
# transplant model (transplant as a time-dependent treatment) trains through train_fold
# with endpoint 'hsct' (folds loso-<site> and 'all'); each held-out site evaluates it on
# its own patients (validation with transplant as it happened, RMST under each policy by
# IPSS-M category); the cross-site tables and figure follow.


rule site_transplant_release:
    input:
        patients="results/{disease}/sites/{site}/private/patients.parquet",
        scores="results/{disease}/sites/{site}/private/scores.parquet",
    output:
        release="results/{disease}/sites/{site}/shared/transplant_by_ipssm.json",
        ledger="results/{disease}/sites/{site}/shared/transplant_by_ipssm_ledger.tsv",
    log:
        "results/logs/site_transplant_release/{disease}/{site}.log",
    benchmark:
        "results/benchmarks/site_transplant_release/{disease}/{site}.tsv"
    conda:
        "../../envs/train.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        noise_multiplier=lambda w: float(
            transplant_of(w.disease).get("release_noise", 5.0)
        ),
        min_cell_count=config["privacy"]["min_cell_count"],
        delta=lambda w: training_of(w.disease)["delta"],
        privacy=config["privacy"],
    script:
        "../scripts/site_transplant_release.py"


rule evaluate_transplant_site:
    input:
        models="results/{disease}/training/hsct/{fold}/models.pt",
        patients="results/{disease}/sites/{site}/private/patients.parquet",
        scores="results/{disease}/sites/{site}/private/scores.parquet",
    output:
        validation="results/{disease}/sites/{site}/shared/evaluation/hsct_{fold}_validation.tsv",
        rmst="results/{disease}/sites/{site}/shared/evaluation/hsct_{fold}_rmst.tsv",
    log:
        "results/logs/evaluate_transplant_site/{disease}/{site}_{fold}.log",
    benchmark:
        "results/benchmarks/evaluate_transplant_site/{disease}/{site}_{fold}.tsv"
    conda:
        "../../envs/train.yaml"
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        disease=lambda w: disease_config(w),
        training=lambda w: fold_training(w.disease, "hsct"),
        transplant=lambda w: transplant_of(w.disease),
        evaluation=config["evaluation"],
        privacy=config["privacy"],
    script:
        "../scripts/evaluate_transplant_site.py"


rule transplant_tables:
    input:
        validation=lambda w: transplant_evaluation_outputs(w.disease, "validation.tsv"),
        rmst=lambda w: transplant_evaluation_outputs(w.disease, "rmst.tsv"),
        releases=lambda w: [
            f"results/{w.disease}/sites/{s}/shared/transplant_by_ipssm.json"
            for s in sites_of(w.disease)
        ],
        models="results/{disease}/training/hsct/all/models.pt",
    output:
        validation=report(
            "results/{disease}/tables/hsct_validation.tsv",
            caption="../report/hsct_validation.rst",
            category="Treatment",
        ),
        rmst=report(
            "results/{disease}/tables/hsct_rmst.tsv",
            caption="../report/hsct_rmst.rst",
            category="Treatment",
        ),
        effects="results/{disease}/tables/hsct_effects.tsv",
        counts="results/{disease}/tables/hsct_transplanted_by_ipssm.tsv",
        png=report(
            "results/{disease}/figures/hsct_rmst_gain.png",
            caption="../report/hsct_rmst_gain.rst",
            category="Treatment",
        ),
        pdf="results/{disease}/figures/hsct_rmst_gain.pdf",
    log:
        "results/logs/transplant_tables/{disease}.log",
    benchmark:
        "results/benchmarks/transplant_tables/{disease}.tsv"
    conda:
        "../../envs/plot.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        transplant=lambda w: transplant_of(w.disease),
        confidence=config["evaluation"]["confidence"],
    script:
        "../scripts/transplant_tables.py"
