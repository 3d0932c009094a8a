"""Rule simulate_tabular_site: one simulated site's CSV of a tabular disease."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.pipeline import logged, simulate_tabular_site_job

with logged(snakemake.log[0]):
    simulate_tabular_site_job(snakemake.params.sites, snakemake.wildcards.site, snakemake.params.generator, snakemake.output[0])
