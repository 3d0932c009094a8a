"""Rule privacy_ledger: every fold's ledger rows stacked into results/privacy/ledger.tsv."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.jobs import logged
from fedheme.jobs.train import privacy_ledger_job

with logged(snakemake.log[0]):
    privacy_ledger_job(ledgers=list(snakemake.input), keys=snakemake.params.folds, out=snakemake.output[0])
