"""Rule metrics_table: every test site's metrics, pooled over sites, and the summary."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.jobs import logged
from fedheme.jobs.evaluate import metrics_table_job

with logged(snakemake.log[0]):
    metrics_table_job(
        metrics=snakemake.input.metrics,
        calibration=snakemake.input.calibration,
        km=snakemake.input.km,
        study=snakemake.input.study,
        confidence=snakemake.params.confidence,
        out_metrics=snakemake.output.metrics,
        out_summary=snakemake.output.summary,
        out_calibration=snakemake.output.calibration,
        out_km=snakemake.output.km,
    )
