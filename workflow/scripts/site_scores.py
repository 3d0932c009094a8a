"""Rule site_scores: clinical baseline scores of one site's patients (see fedheme.scores)."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.jobs import logged
from fedheme.jobs.scores import site_scores_job

with logged(snakemake.log[0]):
    site_scores_job(patients=snakemake.input.patients, baselines=snakemake.params.baselines, out=snakemake.output[0])
