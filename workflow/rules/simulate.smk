# Stage 1 (simulated sites only): draw the disease's hospital sites from its cohort and
# write each site's export in that site's dialect, as the hospital would hand it over.


rule simulate_site:
    input:
        cohort_files,
    output:
        patients="results/{disease}/exports/{site}/patients.txt",
        variants="results/{disease}/exports/{site}/variants.txt",
        summary="results/{disease}/simulation/{site}.json",
    log:
        "results/logs/simulate_site/{disease}/{site}.log",
    benchmark:
        "results/benchmarks/simulate_site/{disease}/{site}.tsv"
    wildcard_constraints:
        disease=IWGPM_DISEASES,
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        cohort=lambda w: disease_config(w)["cohort"],
        sites=lambda w: sites_of(w.disease, source="simulated"),
        dialect=lambda w: site_row(w)["dialect"],
        settings=lambda w: disease_config(w).get("simulation", {}),
    script:
        "../scripts/simulate_site.py"


# Tabular diseases without data of their own (multiple myeloma, sickle cell disease): all
# sites drawn from the disease's generator with a known truth; each site's CSV written as
# a researcher would bring it.
rule simulate_tabular_site:
    output:
        "results/{disease}/exports/{site}/patients.csv",
    log:
        "results/logs/simulate_tabular_site/{disease}/{site}.log",
    benchmark:
        "results/benchmarks/simulate_tabular_site/{disease}/{site}.tsv"
    wildcard_constraints:
        disease=TABULAR_DISEASES,
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        sites=lambda w: sites_of(w.disease, source="simulated"),
        generator=lambda w: disease_config(w)["generator"],
    script:
        "../scripts/simulate_tabular_site.py"
