"""Rule loso_table: leave-one-site-out C-index of every run, per site and pooled."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.pipeline import logged, loso_table_job

with logged(snakemake.log[0]):
    loso_table_job(list(snakemake.input), snakemake.output[0])
