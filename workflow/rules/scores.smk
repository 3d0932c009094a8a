# Clinical risk scores (IPSS-R, IPSS-M, ISS, R-ISS, R2-ISS), computed per site inside that
# site's jobs; they stand beside every model as baselines in the validation stage.


rule site_scores:
    input:
        patients="results/{disease}/sites/{site}/private/patients.parquet",
    output:
        "results/{disease}/sites/{site}/private/scores.parquet",
    log:
        "results/logs/site_scores/{disease}/{site}.log",
    benchmark:
        "results/benchmarks/site_scores/{disease}/{site}.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        baselines=lambda w: disease_config(w).get("baselines", []),
    script:
        "../scripts/site_scores.py"
