# Descriptive releases of MDS sites: each site releases suppressed aggregates of its
# patients in its own job (research mode); the site overview table and the
# site-heterogeneity figure are drawn from those releases only, or, in deployment mode,
# from each site's DP training release (disease_aggregates in common.smk).


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
        endpoints=lambda w: disease_config(w)["endpoints"],
        min_cell_count=config["privacy"]["min_cell_count"],
    script:
        "../scripts/site_aggregates.py"


rule site_overview:
    input:
        disease_aggregates,
    output:
        report(
            "results/{disease}/tables/site_overview.tsv",
            caption="../report/site_overview.rst",
            category="Sites",
        ),
    log:
        "results/logs/site_overview/{disease}.log",
    benchmark:
        "results/benchmarks/site_overview/{disease}.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=500,
        runtime=5,
    params:
        features=overview_features,
        release_mode=overview_release_mode,
    script:
        "../scripts/site_overview.py"


rule site_heterogeneity_figure:
    input:
        disease_aggregates,
    output:
        png=report(
            "results/{disease}/figures/site_heterogeneity.png",
            caption="../report/site_heterogeneity.rst",
            category="Sites",
        ),
        pdf="results/{disease}/figures/site_heterogeneity.pdf",
    log:
        "results/logs/site_heterogeneity_figure/{disease}.log",
    benchmark:
        "results/benchmarks/site_heterogeneity_figure/{disease}.tsv"
    conda:
        "../../envs/plot.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        min_cell_count=config["privacy"]["min_cell_count"],
        features=overview_features,
        release_mode=overview_release_mode,
    script:
        "../scripts/site_heterogeneity_figure.py"
