"""Rule site_classification: WHO 2022 and ICC 2022 labels of one MDS site's patients, and
its suppressed cross-tabulation (fedheme.diagnosis)."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.jobs import logged
from fedheme.jobs.diagnosis import site_classification_job

with logged(snakemake.log[0]):
    site_classification_job(
        patients=snakemake.input.patients,
        variants=snakemake.input.variants,
        site_id=snakemake.wildcards.site,
        min_cell_count=snakemake.params.min_cell_count,
        out_labels=snakemake.output.labels,
        out_release=snakemake.output.release,
    )
