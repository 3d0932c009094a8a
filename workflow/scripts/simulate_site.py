"""Rule simulate_site: write one simulated MDS site's export (see fedheme.data.iwgpm.simulate)."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.jobs import logged
from fedheme.jobs.simulate import simulate_site_job

with logged(snakemake.log[0]):
    simulate_site_job(
        cohort_dir=snakemake.params.cohort,
        site_ids=snakemake.params.sites,
        site_id=snakemake.wildcards.site,
        dialect_name=snakemake.params.dialect,
        settings=snakemake.params.settings,
        out_patients=snakemake.output.patients,
        out_variants=snakemake.output.variants,
        out_summary=snakemake.output.summary,
    )
