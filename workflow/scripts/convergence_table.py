"""Rule convergence_table: every fold's training loss by round, in one table."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.jobs import logged
from fedheme.jobs.figures import convergence_table_job

with logged(snakemake.log[0]):
    convergence_table_job(rounds=list(snakemake.input), keys=snakemake.params.folds, out=snakemake.output[0])
