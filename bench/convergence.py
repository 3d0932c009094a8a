"""What each training change buys, measured on generator data (never on a site).

Like ``bench/hyperparameters.py``, DP-FedAvg at epsilon 3 runs over generated MM training
sites and each variant is scored on a separate generated validation cohort: Harrell's C
and the mean negative log-likelihood per patient (NLL, lower is better), three seeds
each, beside the same run without DP and the generator's true model. Variants:

- ``average_last``: the released model is the mean of the global models of that last
  share of the rounds (post-processing; 0 is the last round's weights);
- ``rounds``: more communication rounds at the same epsilon (more, noisier steps).

    python bench/convergence.py    # writes bench/measurements/convergence.json

A variant replaces the default (60 rounds, no averaging) in config/config.yaml only when,
at the rounds ``make run`` can afford, it lowers the mean NLL and does not lower the mean C.
"""

from __future__ import annotations

import math
import statistics
import time

import numpy as np

from common import default_training, generator_study, machine_info, save, validation_scores

SEEDS = [1, 2, 3]
EPSILON = 3.0
VARIANTS = [{"average_last": 0.0}, {"average_last": 1 / 6}, {"average_last": 1 / 3}, {"average_last": 0.5},
            {"rounds": 120, "average_last": 0.0}, {"rounds": 120, "average_last": 1 / 3}]  # fmt: skip


def main() -> None:
    from fedheme.evaluation.bootstrap import harrell_c
    from fedheme.federated.config import TrainConfig
    from fedheme.federated.fold import FoldInputs, train_fold

    base = default_training()
    study = generator_study(base)
    sites, validation, settings, endpoint = study["sites"], study["validation"], study["settings"], study["endpoint"]
    rows = []
    for variant in VARIANTS + [{"average_last": 0.0, "epsilon": math.inf}]:
        epsilon = variant.get("epsilon", EPSILON)
        training = {**base, **{k: v for k, v in variant.items() if k != "epsilon"}}
        releases = study["releases"] if math.isfinite(epsilon) else {"exact": study["releases"]["dp"]}
        start = time.perf_counter()
        bundle, _, _ = train_fold(FoldInputs("loso-none", sites, releases, study["draws"]), settings=settings, endpoint=endpoint,
                                  base=TrainConfig.from_config(training), strategies=["fedavg"], epsilons=[epsilon],
                                  seeds=SEEDS, baselines=[], checkpoint_dir=None)  # fmt: skip
        scores = validation_scores(bundle, validation, settings, endpoint)
        c, nll = [s["harrell_c"] for s in scores], [s["nll"] for s in scores]
        rows.append({**variant, "epsilon": "inf" if not math.isfinite(epsilon) else epsilon, "rounds": training["rounds"],
                     "harrell_c": statistics.mean(c), "harrell_c_sd": statistics.stdev(c), "nll": statistics.mean(nll),
                     "nll_sd": statistics.stdev(nll), "seconds": round(time.perf_counter() - start, 1)})  # fmt: skip
        print(rows[-1], flush=True)
    oracle = float(harrell_c(np.ones((1, len(validation))), validation[f"{endpoint}_years"].to_numpy(),
                             validation[f"{endpoint}_status"].to_numpy().astype(bool), validation[f"oracle_risk_{endpoint}"].to_numpy())[0])  # fmt: skip
    default = rows[0]
    better = [r for r in rows[1:] if r["rounds"] == base["rounds"] and r["epsilon"] == EPSILON
              and r["nll"] < default["nll"] and r["harrell_c"] >= default["harrell_c"]]  # fmt: skip
    chosen = min(better, key=lambda r: r["nll"]) if better else default
    print(f"\n{'variant':34} {'C':>15} {'NLL':>17}")
    for r in rows:
        name = f"eps {r['epsilon']}, {r['rounds']} rounds, average last {r['average_last']:.2f}"
        print(f"{name:34} {r['harrell_c']:.4f} ± {r['harrell_c_sd']:.4f} {r['nll']:.4f} ± {r['nll_sd']:.4f}")
    print(f"oracle C {oracle:.4f}; chosen: {chosen['rounds']} rounds, average_last {chosen['average_last']:.2f}")
    payload = {"machine": machine_info(), "generator": study["generator"], "epsilon": EPSILON, "seeds": SEEDS,
               "results": rows, "chosen": chosen, "oracle_harrell_c": oracle}  # fmt: skip
    print("written to", save("convergence", payload))


if __name__ == "__main__":
    main()
