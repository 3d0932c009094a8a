"""Rule simulate_site: write one simulated site's export (see fedheme.simulate)."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.pipeline import logged, simulate_site_job

with logged(snakemake.log[0]):
    simulate_site_job(
        snakemake.params.cohort,
        snakemake.params.sites,
        snakemake.wildcards.site,
        snakemake.params.dialect,
        snakemake.params.settings,
        snakemake.output.patients,
        snakemake.output.variants,
        snakemake.output.summary,
    )
