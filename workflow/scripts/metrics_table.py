"""Rule metrics_table: every test site's metrics, pooled over sites, and the summary."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.pipeline import logged, metrics_table_job

with logged(snakemake.log[0]):
    metrics_table_job(
        snakemake.input.metrics,
        snakemake.input.replicates,
        snakemake.input.calibration,
        snakemake.input.km,
        snakemake.params.confidence,
        snakemake.output.metrics,
        snakemake.output.summary,
        snakemake.output.calibration,
        snakemake.output.km,
    )
