"""Rule site_scores: clinical baseline scores of one site's patients (see fedheme.scores)."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.pipeline import logged, scores_job

with logged(snakemake.log[0]):
    scores_job(snakemake.input.patients, snakemake.params.baselines, snakemake.output[0])
