"""Rule convergence_table: every fold's training loss by round, in one table."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.pipeline import convergence_table_job, logged

with logged(snakemake.log[0]):
    convergence_table_job(list(snakemake.input), snakemake.params.folds, snakemake.output[0])
