"""Rule reclassification_table: WHO 2016 -> WHO 2022 -> ICC 2022 pooled from the sites'
released cross-tabulations (fedheme.diagnosis.pooling)."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.jobs import logged
from fedheme.jobs.diagnosis import reclassification_table_job

with logged(snakemake.log[0]):
    reclassification_table_job(
        releases=list(snakemake.input),
        out_table=snakemake.output.table,
        out_png=snakemake.output.png,
        out_pdf=snakemake.output.pdf,
    )
