"""Rule import_network_fold: a fold trained over a networked federation, checked and put
where train_fold's outputs would be (see fedheme.network.coordinator)."""

import checkout_path  # noqa: F401  (puts this checkout's src/ on sys.path)
from fedheme.jobs import logged
from fedheme.jobs.train import import_network_fold_job

with logged(snakemake.log[0]):
    import_network_fold_job(
        models=snakemake.input.models,
        ledger=snakemake.input.ledger,
        rounds=snakemake.input.rounds,
        disease_name=snakemake.wildcards.disease,
        endpoint=snakemake.wildcards.endpoint,
        fold=snakemake.wildcards.fold,
        training=snakemake.params.training,
        train_sites=snakemake.params.train_sites,
        out_models=snakemake.output.models,
        out_ledger=snakemake.output.ledger,
        out_rounds=snakemake.output.rounds,
    )
