"""Rule manifest: the sha256 of every table of the run (results/MANIFEST.tsv)."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.jobs import logged
from fedheme.jobs.figures import manifest_job

with logged(snakemake.log[0]):
    manifest_job(tables=list(snakemake.input), out=snakemake.output[0])
