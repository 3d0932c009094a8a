"""Rule study_budget: each site's epsilon over the whole study (results/privacy/study.tsv)."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.jobs import logged
from fedheme.jobs.train import study_budget_job

with logged(snakemake.log[0]):
    study_budget_job(
        ledger=snakemake.input[0], non_private_releases=snakemake.params.non_private_releases,
        planned=snakemake.params.planned, out=snakemake.output[0])
