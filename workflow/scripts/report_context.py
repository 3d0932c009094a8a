"""Rule report_context: the run's config and software versions for the report."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.jobs import logged
from fedheme.jobs.figures import report_context_job

with logged(snakemake.log[0]):
    report_context_job(config=snakemake.params.config, out_config=snakemake.output.config, out_software=snakemake.output.software)
