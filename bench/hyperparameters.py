"""How the default training hyperparameters are chosen: on generator data, never on a site.

The bundled MDS sites are real patients, and every one of them is a test site of some
fold: tuning on them would spend unaccounted privacy on patients later used for testing.
So the defaults (learning rate, clipping bound, expected batch) are chosen on the
multiple-myeloma generator (:mod:`fedheme.data.tabular.simulate`), a public simulation
with a known truth: DP-FedAvg at epsilon 3 over generated training sites, each setting
scored by Harrell's C of its final model on a separate generated validation cohort, two
seeds each. Nothing here reads a patient. The selected setting is the best among those
with batch 128: halving the batch doubles the DP-SGD steps of every run, which
``make run``'s 10-minute budget on 2 cores does not allow (the overall best is reported
beside it).

    python bench/hyperparameters.py    # writes bench/measurements/hyperparameters.json

The winner is written to config/config.yaml by hand, with this file's result cited in
config/README.md.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import torch
import yaml

from common import ROOT, machine_info, save

GRID = {"lr": [0.1, 0.5, 1.0], "clip_norm": [1.0, 3.0], "batch_size": [64, 128]}
SEEDS = [1, 2]
EPSILON = 3.0
#: The expected batch ``make run`` can afford: the selection is made among these settings.
AFFORDABLE_BATCH = 128
TRAIN_SEED, VALIDATION_SEED = 20241101, 20241102  # the generator's draws, not the config's


def main() -> None:
    from fedheme.data.tabular.simulate import GeneratorSettings, simulate_tabular
    from fedheme.evaluation.bootstrap import harrell_c
    from fedheme.federated.config import DesignSettings, TrainConfig
    from fedheme.federated.design import design_matrix
    from fedheme.federated.fold import FoldInputs, train_fold
    from fedheme.federated.releases import training_release
    from fedheme.models.bundle import bundle_model
    from fedheme.privacy.randomness import SiteRandomness

    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    disease = config["diseases"]["mm"]
    base_training = dict(config["training"])  # the defaults being chosen (60 rounds, as MDS runs)
    settings = DesignSettings.from_config(disease, base_training)
    generator = {**disease["generator"], "seed": TRAIN_SEED}
    sites = simulate_tabular([f"gen{i}" for i in range(6)], GeneratorSettings.from_config(generator))
    validation = simulate_tabular(["validation"], GeneratorSettings.from_config({**generator, "seed": VALIDATION_SEED, "n_patients": 2000}))["validation"]
    endpoint = disease["primary_endpoint"]
    draws = {s: SiteRandomness(bytes([i + 1]) * 32, ("selection",)) for i, s in enumerate(sites)}
    noise = {k: float(v) for k, v in base_training["release_noise"].items()}
    releases = {"dp": {s: training_release(p, settings, s, noise, draws[s].numpy("release")) for s, p in sites.items()}}
    rows = []
    for lr, clip, batch in itertools.product(GRID["lr"], GRID["clip_norm"], GRID["batch_size"]):
        training = {**base_training, "lr": lr, "clip_norm": clip, "batch_size": batch}
        start = time.perf_counter()
        bundle, _, _ = train_fold(FoldInputs("loso-none", sites, releases, draws), settings=settings, endpoint=endpoint,
                                  base=TrainConfig.from_config(training), strategies=["fedavg"], epsilons=[EPSILON],
                                  seeds=SEEDS, baselines=[], checkpoint_dir=None)  # fmt: skip
        matrix = design_matrix(validation, settings, bundle["stats"]["dp"], endpoint)
        scores = []
        for run in bundle["runs"]:
            with torch.no_grad():
                risk = bundle_model(bundle, run).risk(torch.from_numpy(matrix.x)).numpy().astype(float)
            scores.append(float(harrell_c(np.ones((1, len(risk))), matrix.time, matrix.status.astype(bool), risk)[0]))
        rows.append({"lr": lr, "clip_norm": clip, "batch_size": batch, "harrell_c_by_seed": scores,
                     "harrell_c": float(np.mean(scores)), "seconds": round(time.perf_counter() - start, 1)})  # fmt: skip
        print(rows[-1], flush=True)
    oracle = float(harrell_c(np.ones((1, len(validation))), validation[f"{endpoint}_years"].to_numpy(),
                             validation[f"{endpoint}_status"].to_numpy().astype(bool), validation[f"oracle_risk_{endpoint}"].to_numpy())[0])  # fmt: skip
    best = max(rows, key=lambda r: r["harrell_c"])
    selected = max((r for r in rows if r["batch_size"] == AFFORDABLE_BATCH), key=lambda r: r["harrell_c"])
    payload = {"machine": machine_info(), "data": {"generator": generator, "sites": {s: len(p) for s, p in sites.items()},
               "validation_patients": len(validation), "endpoint": endpoint}, "epsilon": EPSILON, "seeds": SEEDS,
               "rounds": base_training["rounds"], "grid": GRID, "results": rows, "best": best, "selected": selected,
               "oracle_harrell_c": oracle}  # fmt: skip
    print("best:", best, "selected:", selected, "oracle C:", round(oracle, 4))
    print("written to", save("hyperparameters", payload))


if __name__ == "__main__":
    main()
