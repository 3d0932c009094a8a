"""Rules that stack per-fold tables (the privacy ledger) into one."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.pipeline import concat_tables_job, logged

with logged(snakemake.log[0]):
    concat_tables_job(list(snakemake.input), snakemake.output[0])
