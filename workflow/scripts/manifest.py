"""Rule manifest: the sha256 of every table of the run (results/MANIFEST.tsv)."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.pipeline import logged, manifest_job

with logged(snakemake.log[0]):
    manifest_job(list(snakemake.input), snakemake.output[0])
