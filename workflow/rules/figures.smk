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


rule forest_figure:
    input:
        "results/tables/metrics.tsv",
    output:
        png=report(
            "results/{disease}/figures/forest_cindex.png",
            caption="../report/forest_cindex.rst",
            category="Figures",
        ),
        pdf="results/{disease}/figures/forest_cindex.pdf",
    log:
        "results/logs/figures/{disease}_forest_cindex.log",
    benchmark:
        "results/benchmarks/figures/{disease}_forest_cindex.tsv"
    conda:
        "../../envs/plot.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        **figure_params("forest_cindex"),
    script:
        "../scripts/plot_validation_figure.py"


rule privacy_utility_figure:
    input:
        "results/tables/metrics.tsv",
    output:
        png=report(
            "results/{disease}/figures/privacy_utility.png",
            caption="../report/privacy_utility.rst",
            category="Figures",
        ),
        pdf="results/{disease}/figures/privacy_utility.pdf",
    log:
        "results/logs/figures/{disease}_privacy_utility.log",
    benchmark:
        "results/benchmarks/figures/{disease}_privacy_utility.tsv"
    conda:
        "../../envs/plot.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        **figure_params("privacy_utility"),
    script:
        "../scripts/plot_validation_figure.py"


rule km_figure:
    input:
        "results/tables/km_life_tables.tsv",
    output:
        png=report(
            "results/{disease}/figures/km_risk_groups.png",
            caption="../report/km_risk_groups.rst",
            category="Figures",
        ),
        pdf="results/{disease}/figures/km_risk_groups.pdf",
    log:
        "results/logs/figures/{disease}_km_risk_groups.log",
    benchmark:
        "results/benchmarks/figures/{disease}_km_risk_groups.tsv"
    conda:
        "../../envs/plot.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        **figure_params("km_risk_groups"),
    script:
        "../scripts/plot_validation_figure.py"


rule calibration_figure:
    input:
        "results/tables/calibration.tsv",
    output:
        png=report(
            "results/{disease}/figures/calibration.png",
            caption="../report/calibration.rst",
            category="Figures",
        ),
        pdf="results/{disease}/figures/calibration.pdf",
    log:
        "results/logs/figures/{disease}_calibration.log",
    benchmark:
        "results/benchmarks/figures/{disease}_calibration.tsv"
    conda:
        "../../envs/plot.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        **figure_params("calibration"),
    script:
        "../scripts/plot_validation_figure.py"


rule convergence_figure:
    input:
        "results/tables/convergence.tsv",
    output:
        png=report(
            "results/{disease}/figures/convergence.png",
            caption="../report/convergence.rst",
            category="Figures",
        ),
        pdf="results/{disease}/figures/convergence.pdf",
    log:
        "results/logs/figures/{disease}_convergence.log",
    benchmark:
        "results/benchmarks/figures/{disease}_convergence.tsv"
    conda:
        "../../envs/plot.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        **figure_params("convergence"),
    script:
        "../scripts/plot_validation_figure.py"


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
