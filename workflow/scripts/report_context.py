"""Rule report_context: the run's config and software versions for the report."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.pipeline import logged, report_context_job

with logged(snakemake.log[0]):
    report_context_job(snakemake.params.config, snakemake.output.config, snakemake.output.software)
