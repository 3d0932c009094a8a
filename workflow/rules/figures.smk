# Figures of the validation, one rule each, drawn from released tables only (metrics,
# calibration groups, life tables, training losses); the run's config and software
# versions for the report; and results/MANIFEST.tsv, the sha256 of every table.


rule convergence_table:
    input:
        lambda w: all_training_outputs("rounds.tsv"),
    output:
        "results/tables/convergence.tsv",
    log:
        "results/logs/convergence_table/convergence_table.log",
    benchmark:
        "results/benchmarks/convergence_table/convergence_table.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        folds=training_output_keys(),
    script:
        "../scripts/convergence_table.py"


# One rule per figure of fedheme.report.catalogue.FIGURES (the one list of figures).
for spec in FIGURES:

    rule:
        name:
            f"{spec.name}_figure"
        input:
            f"results/tables/{spec.table}",
        output:
            png=report(
                f"results/{{disease}}/figures/{spec.name}.png",
                caption=f"../report/{spec.name}.rst",
                category="Figures",
            ),
            pdf=f"results/{{disease}}/figures/{spec.name}.pdf",
        log:
            f"results/logs/figures/{{disease}}_{spec.name}.log",
        benchmark:
            f"results/benchmarks/figures/{{disease}}_{spec.name}.tsv"
        conda:
            "../../envs/plot.yaml"
        resources:
            mem_mb=1000,
            runtime=5,
        params:
            **figure_params(spec.name),
        script:
            "../scripts/validation_figure.py"


rule report_context:
    output:
        config=report(
            "results/report/config.yaml",
            caption="../report/config.rst",
            category="Run",
        ),
        software=report(
            "results/report/software.tsv",
            caption="../report/software.rst",
            category="Run",
        ),
    log:
        "results/logs/report_context/report_context.log",
    benchmark:
        "results/benchmarks/report_context/report_context.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=500,
        runtime=5,
    params:
        config=config,
    script:
        "../scripts/report_context.py"


rule manifest:
    input:
        manifest_inputs(),
    output:
        "results/MANIFEST.tsv",
    log:
        "results/logs/manifest/manifest.log",
    benchmark:
        "results/benchmarks/manifest/manifest.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=500,
        runtime=5,
    script:
        "../scripts/manifest.py"
