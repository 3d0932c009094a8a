# Cross-site validation: each test site evaluates a fold's model bundle and its clinical
# scores in its own job (predictions stay in its private folder; metrics, bootstrap
# calibration groups of one declared model are released), then the metrics are pooled over
# sites into results/tables/metrics.tsv and summary.md.


rule evaluate_site:
    input:
        models="results/{disease}/training/{endpoint}/{fold}/models.pt",
        patients="results/{disease}/sites/{site}/private/patients.parquet",
        scores="results/{disease}/sites/{site}/private/scores.parquet",
    output:
        metrics="results/{disease}/sites/{site}/shared/evaluation/{endpoint}_{fold}_metrics.tsv",
        calibration="results/{disease}/sites/{site}/shared/evaluation/{endpoint}_{fold}_calibration.tsv",
        km="results/{disease}/sites/{site}/shared/evaluation/{endpoint}_{fold}_km.tsv",
        ledger="results/{disease}/sites/{site}/shared/evaluation/{endpoint}_{fold}_ledger.tsv",
        predictions="results/{disease}/sites/{site}/private/predictions/{endpoint}_{fold}.parquet",
    log:
        "results/logs/evaluate_site/{disease}/{site}_{endpoint}_{fold}.log",
    benchmark:
        "results/benchmarks/evaluate_site/{disease}/{site}_{endpoint}_{fold}.tsv"
    conda:
        "../../envs/train.yaml"
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        disease=lambda w: disease_config(w),
        training=lambda w: training_of(w.disease),
        evaluation=config["evaluation"],
        figures=config["figures"],
        privacy=config["privacy"],
    script:
        "../scripts/evaluate_site.py"


rule metrics_table:
    input:
        metrics=evaluation_outputs("metrics.tsv"),
        calibration=evaluation_outputs("calibration.tsv"),
        km=evaluation_outputs("km.tsv"),
        study="results/privacy/study.tsv",
    output:
        metrics=report(
            "results/tables/metrics.tsv",
            caption="../report/metrics.rst",
            category="Validation",
        ),
        summary=report(
            "results/tables/summary.md",
            caption="../report/summary.rst",
            category="Validation",
        ),
        calibration="results/tables/calibration.tsv",
        km="results/tables/km_life_tables.tsv",
    log:
        "results/logs/metrics_table/metrics_table.log",
    benchmark:
        "results/benchmarks/metrics_table/metrics_table.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        confidence=config["evaluation"]["confidence"],
    script:
        "../scripts/metrics_table.py"
