# Stage 3, federated standardisation: each site releases suppressed aggregates; one job
# pools those of a scope (all sites, their train splits, or all but a held-out site);
# each site then standardises and imputes its own features with the pooled statistics.


rule site_aggregates:
    input:
        patients="results/{disease}/sites/{site}/private/patients.parquet",
    output:
        "results/{disease}/sites/{site}/shared/aggregates_{subset}.json",
    log:
        "results/logs/site_aggregates/{disease}/{site}_{subset}.log",
    benchmark:
        "results/benchmarks/site_aggregates/{disease}/{site}_{subset}.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        features=lambda w: disease_config(w)["features"],
        min_cell_count=config["privacy"]["min_cell_count"],
    script:
        "../scripts/site_aggregates.py"


rule combine_aggregates:
    input:
        scope_aggregates,
    output:
        "results/{disease}/federated/global_stats_{scope}.json",
    log:
        "results/logs/combine_aggregates/{disease}/{scope}.log",
    benchmark:
        "results/benchmarks/combine_aggregates/{disease}/{scope}.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=500,
        runtime=5,
    params:
        features=lambda w: disease_config(w)["features"],
    script:
        "../scripts/combine_aggregates.py"


rule standardise_site:
    input:
        patients="results/{disease}/sites/{site}/private/patients.parquet",
        stats="results/{disease}/federated/global_stats_{scope}.json",
    output:
        "results/{disease}/sites/{site}/private/standardised_{scope}.parquet",
    log:
        "results/logs/standardise_site/{disease}/{site}_{scope}.log",
    benchmark:
        "results/benchmarks/standardise_site/{disease}/{site}_{scope}.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        features=lambda w: disease_config(w)["features"],
    script:
        "../scripts/standardise_site.py"
