# Empirical privacy audit (research mode): each audited site attacks the models trained on
# its patients in its own job (membership inference on the within fold's FedAvg and local
# models, canary auditing of the DP trainer; shadow and canary models never leave it) and
# releases the audit figures; the study's audit table and figure are stacked from those.


rule site_privacy_audit:
    input:
        models=lambda w: f"results/{w.disease}/training/{audit_endpoint(w.disease)}/within/models.pt",
        patients="results/{disease}/sites/{site}/private/patients.parquet",
        release="results/{disease}/sites/{site}/shared/training_release_train.json",
    output:
        audit="results/{disease}/sites/{site}/shared/audit/membership_canary.tsv",
        roc="results/{disease}/sites/{site}/shared/audit/roc.tsv",
    log:
        "results/logs/site_privacy_audit/{disease}/{site}.log",
    benchmark:
        "results/benchmarks/site_privacy_audit/{disease}/{site}.tsv"
    conda:
        "../../envs/train.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        disease=lambda w: disease_config(w),
        training=lambda w: training_of(w.disease),
        evaluation=config["evaluation"],
        figures=config["figures"],
        privacy=config["privacy"],
        calibration_cache="results/cache/noise_calibration",
    script:
        "../scripts/site_privacy_audit.py"


rule privacy_audit:
    input:
        audits=audit_outputs("membership_canary.tsv"),
        rocs=audit_outputs("roc.tsv"),
    output:
        audit=report(
            "results/privacy/audit.tsv",
            caption="../report/privacy_audit.rst",
            category="Privacy",
        ),
        roc="results/privacy/audit_roc.tsv",
        png=report(
            "results/privacy/figures/audit.png",
            caption="../report/privacy_audit.rst",
            category="Privacy",
        ),
        pdf="results/privacy/figures/audit.pdf",
    log:
        "results/logs/privacy_audit/audit.log",
    benchmark:
        "results/benchmarks/privacy_audit/audit.tsv"
    conda:
        "../../envs/plot.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/privacy_audit.py"
