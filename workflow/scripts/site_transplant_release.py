"""Rule site_transplant_release: how many of one MDS site's patients were transplanted, by
IPSS-M category, released under DP and small-cell rules (fedheme.treatment.release)."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.jobs import logged
from fedheme.jobs.treatment import transplant_release_job

with logged(snakemake.log[0]):
    transplant_release_job(
        patients=snakemake.input.patients,
        scores=snakemake.input.scores,
        site_id=snakemake.wildcards.site,
        disease=snakemake.wildcards.disease,
        noise_multiplier=snakemake.params.noise_multiplier,
        min_cell_count=snakemake.params.min_cell_count,
        delta=snakemake.params.delta,
        privacy=snakemake.params.privacy,
        out_release=snakemake.output.release,
        out_ledger=snakemake.output.ledger,
    )
