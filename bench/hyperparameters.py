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

from common import default_training, generator_study, machine_info, save, validation_scores

GRID = {"lr": [0.1, 0.5, 1.0], "clip_norm": [1.0, 3.0], "batch_size": [64, 128]}
SEEDS = [1, 2]
EPSILON = 3.0
#: The expected batch ``make run`` can afford: the selection is made among these settings.
AFFORDABLE_BATCH = 128


def main() -> None:
    from fedheme.evaluation.bootstrap import harrell_c
    from fedheme.federated.config import TrainConfig
    from fedheme.federated.fold import FoldInputs, train_fold

    base_training = default_training()  # the defaults being chosen (60 rounds, as MDS runs)
    study = generator_study(base_training)
    sites, validation, settings, releases, draws = (study[k] for k in ("sites", "validation", "settings", "releases", "draws"))
    endpoint, generator = study["endpoint"], study["generator"]
    rows = []
    for lr, clip, batch in itertools.product(GRID["lr"], GRID["clip_norm"], GRID["batch_size"]):
        training = {**base_training, "lr": lr, "clip_norm": clip, "batch_size": batch}
        start = time.perf_counter()
        bundle, _, _ = train_fold(FoldInputs("loso-none", sites, releases, draws), settings=settings, endpoint=endpoint,
                                  base=TrainConfig.from_config(training), strategies=["fedavg"], epsilons=[EPSILON],
                                  seeds=SEEDS, baselines=[], checkpoint_dir=None)  # fmt: skip
        scores = [r["harrell_c"] for r in validation_scores(bundle, validation, settings, endpoint)]
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
