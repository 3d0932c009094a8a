"""Rule simulate_tabular_site: one simulated site's CSV of a tabular disease."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.jobs import logged
from fedheme.jobs.simulate import simulate_tabular_site_job

with logged(snakemake.log[0]):
    simulate_tabular_site_job(
        site_ids=snakemake.params.sites,
        site_id=snakemake.wildcards.site,
        generator=snakemake.params.generator,
        out=snakemake.output[0],
    )
