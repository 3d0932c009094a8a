# fedheme: federated, differentially private prognostic models for haematological
# diseases. Stages live in workflow/rules/ (one file each); input functions and wildcard
# constraints in workflow/rules/common.smk; the science in src/fedheme/.


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/ingest.smk"
include: "workflow/rules/scores.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/treatment.smk"
include: "workflow/rules/diagnosis.smk"
include: "workflow/rules/audit.smk"
include: "workflow/rules/overview.smk"
include: "workflow/rules/figures.smk"


rule all:
    default_target: True
    input:
        final_outputs(),


rule figures:
    input:
        figure_outputs(),


onstart:
    start_warm_worker()


onsuccess:
    stop_warm_worker()


onerror:
    stop_warm_worker()
