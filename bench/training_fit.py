"""How well training fits the MDS training data, nested: no test patient is read.

Trains the ``within`` fold's FedAvg runs (epsilon inf and 3, two seeds) from the sites'
training splits and training releases of a finished run (``results/`` of ``make run``), and
scores each released model on those same training splits: the mean negative
log-likelihood per patient (logistic hazard) and in-sample Harrell's C. It compares the
last round's weights with the mean over the last half of the rounds
(``training.average_last``), so that a convergence setting is checked on MDS-shaped data
without looking at a test split. Like ``train_fold``, it reads every training site's rows
in one process: a researcher's diagnostic on simulated sites, not a federated job.

    .venv/bin/python bench/training_fit.py    # after make run; writes bench/measurements/training_fit.json
"""

from __future__ import annotations

import math

import pandas as pd
import yaml

from common import ROOT, machine_info, save, validation_scores

SEEDS = [1, 2]
EPSILONS = [math.inf, 3.0]
AVERAGE_LAST = [0.0, 0.5]


def main() -> None:
    from fedheme import grid
    from fedheme.grid import release_modes
    from fedheme.data.splits import subset_rows
    from fedheme.federated.config import DesignSettings, TrainConfig
    from fedheme.federated.fold import FoldInputs, train_fold
    from fedheme.io import read_json
    from fedheme.privacy.randomness import site_randomness

    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    disease, endpoint = config["diseases"]["mds"], config["diseases"]["mds"]["primary_endpoint"]
    sheet = pd.read_csv(ROOT / "config" / "sites.tsv", sep="\t", comment="#")
    sites = sheet.loc[sheet["disease"] == "mds", "site_id"].tolist()
    base = ROOT / "results" / "mds" / "sites"
    patients = {s: subset_rows(pd.read_parquet(base / s / "private" / "patients.parquet"), "train") for s in sites}
    files = {s: read_json(base / s / "shared" / "training_release_train.json") for s in sites}
    releases = {m: {s: files[s][m] for s in sites} for m in release_modes(config, "mds")}
    draws = {s: site_randomness(base / s / "private", "site_key") for s in sites}
    rows = []
    for average_last in AVERAGE_LAST:
        training = {**grid.training_of(config, "mds"), "average_last": average_last}
        settings = DesignSettings.from_config(disease, training)
        bundle, _, _ = train_fold(FoldInputs("within", patients, releases, draws), settings=settings, endpoint=endpoint,
                                  base=TrainConfig.from_config(training), strategies=["fedavg"], epsilons=EPSILONS,
                                  seeds=SEEDS, baselines=[], checkpoint_dir=None)  # fmt: skip
        for score in validation_scores(bundle, pd.concat(patients.values()), settings, endpoint):
            rows.append({"average_last": average_last, "epsilon": score["epsilon"], "seed": score["seed"],
                         "train_nll": score["nll"], "train_harrell_c": score["harrell_c"]})  # fmt: skip
            print(rows[-1], flush=True)
    path = save("training_fit", {"machine": machine_info(), "endpoint": endpoint, "fold": "within (training splits only)",
                                 "rounds": config["training"]["rounds"], "results": rows})  # fmt: skip
    print(f"saved {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
