"""Rule site_aggregates: the suppressed aggregates one MDS site releases (fedheme.data.iwgpm.aggregates)."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.jobs import logged
from fedheme.jobs.overview import site_aggregates_job

with logged(snakemake.log[0]):
    site_aggregates_job(
        patients=snakemake.input.patients,
        features=snakemake.params.features,
        endpoints=snakemake.params.endpoints,
        site_id=snakemake.wildcards.site,
        subset=snakemake.wildcards.subset,
        min_cell_count=snakemake.params.min_cell_count,
        out=snakemake.output[0],
    )
