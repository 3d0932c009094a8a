"""Rule marrow_blast_tables: the marrow-blast classifier's tables and figure, from the test
sites' released rows (fedheme.diagnosis.marrow_pooling)."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.jobs import logged
from fedheme.jobs.diagnosis import marrow_tables_job

with logged(snakemake.log[0]):
    marrow_tables_job(
        metrics=list(snakemake.input.metrics),
        calibration=list(snakemake.input.calibration),
        cuts=snakemake.params.cuts,
        confidence=snakemake.params.confidence,
        out_metrics=snakemake.output.metrics,
        out_summary=snakemake.output.summary,
        out_calibration=snakemake.output.calibration,
        out_png=snakemake.output.png,
        out_pdf=snakemake.output.pdf,
    )
