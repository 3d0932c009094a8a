"""Rule train_fold: every run of the training grid for one fold (see fedheme.federated.fold)."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.jobs import logged
from fedheme.jobs.train import train_fold_job

with logged(snakemake.log[0]):
    sites = snakemake.params.train_sites
    train_fold_job(
        disease_name=snakemake.wildcards.disease,
        disease=snakemake.params.disease,
        training=snakemake.params.training,
        endpoint=snakemake.wildcards.endpoint,
        fold=snakemake.wildcards.fold,
        patients={site: snakemake.input[f"patients_{site}"] for site in sites},
        releases={site: snakemake.input[f"release_{site}"] for site in sites},
        modes=snakemake.params.modes,
        checkpoint_dir=snakemake.params.checkpoints,
        calibration_cache=snakemake.params.calibration_cache,
        privacy=snakemake.params.privacy,
        out_models=snakemake.output.models,
        out_ledger=snakemake.output.ledger,
        out_rounds=snakemake.output.rounds,
        transplant=snakemake.params.transplant,
        diagnosis=snakemake.params.diagnosis,
    )
