"""Rule site_aggregates: the suppressed aggregates one site releases (see fedheme.fedstats)."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.pipeline import aggregates_job, logged

with logged(snakemake.log[0]):
    aggregates_job(
        snakemake.input.patients,
        snakemake.params.features,
        snakemake.wildcards.site,
        snakemake.wildcards.subset,
        snakemake.params.min_cell_count,
        snakemake.output[0],
    )
