"""Rule train_fold: every run of the training grid for one fold (see fedheme.training)."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.pipeline import logged, train_fold_job

with logged(snakemake.log[0]):
    sites = snakemake.params.train_sites
    train_fold_job(
        snakemake.params.disease,
        snakemake.params.training,
        snakemake.wildcards.endpoint,
        snakemake.wildcards.fold,
        {site: snakemake.input[f"patients_{site}"] for site in sites},
        {mode: {site: snakemake.input[f"{mode}_{site}"] for site in sites} for mode in snakemake.params.modes},
        snakemake.params.checkpoints,
        snakemake.output.models,
        snakemake.output.ledger,
        snakemake.output.rounds,
    )
