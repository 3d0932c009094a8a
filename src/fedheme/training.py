"""One training job: every run of the grid for one (disease, endpoint, held-out site).

A run is (strategy, epsilon, seed): a federated strategy (FedAvg, FedProx, FedAdam) over
the training sites, or a baseline trained the same way: ``pooled`` (all training sites'
patients as one site, no DP: the upper reference) and ``local`` (each training site
alone). Hyperparameters come from config, fixed before any test site is seen.

Only the held-out site's C-index, and its concordant/discordant pair counts (so folds
can be pooled without patient data), leave the evaluation; predictions stay with it.
In this simulation the clients of all sites run inside one job; each client object only
ever holds its own site's design matrix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sksurv.metrics import concordance_index_censored

from fedheme.design import DesignMatrix, DesignSettings, combine_releases, design_matrix
from fedheme.federated import Client, TrainConfig, run_federated
from fedheme.io import write_tsv
from fedheme.models import build_model
from fedheme.privacy import LEDGER_COLUMNS, Mechanism, ledger_rows

BASELINES = ("pooled", "local")


def resolve_device(name: str) -> torch.device:
    """'cpu', 'gpu' (fails without one) or 'auto' (a GPU when present, else the CPU)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "gpu":
        if not torch.cuda.is_available():
            raise RuntimeError("training.device is 'gpu' but no CUDA device is visible")
        return torch.device("cuda")
    return torch.device("cpu")


def epsilon_label(epsilon: float) -> str:
    return "inf" if math.isinf(epsilon) else f"{epsilon:g}"


def harrell(design: DesignMatrix, risk: np.ndarray) -> dict:
    """Harrell's C on a test site, with the pair counts that let folds be pooled."""
    status = design.status.astype(bool)
    if status.sum() < 2:
        return {"c_index": math.nan, "concordant": 0, "discordant": 0, "tied_risk": 0}
    c, concordant, discordant, tied_risk, _ = concordance_index_censored(status, design.time, risk)
    return {"c_index": float(c), "concordant": int(concordant), "discordant": int(discordant), "tied_risk": int(tied_risk)}


def risk_scores(weights: dict, kind: str, design: DesignMatrix, n_bins: int, seed: int) -> np.ndarray:
    model = build_model(kind, design.x.shape[1], n_bins, seed)
    model.load_state_dict({k: v.cpu() for k, v in weights.items()})
    with torch.no_grad():
        return model.risk(torch.from_numpy(design.x)).numpy()


def pooled_design(parts: list[DesignMatrix]) -> DesignMatrix:
    return DesignMatrix(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("x", "bin_index", "event", "time", "status", "patient_id")))


@dataclass(frozen=True)
class FoldInputs:
    """What a fold's job works from.

    Attributes:
        train_sites: site id -> harmonised patients (rows used for training).
        test_site, test_patients: the held-out site and its patients.
        releases: released preprocessing aggregates per training site, by mode ('exact', 'dp').
    """

    train_sites: dict[str, pd.DataFrame]
    test_site: str
    test_patients: pd.DataFrame
    releases: dict[str, dict[str, dict]]


def run_fold(
    inputs: FoldInputs,
    settings: DesignSettings,
    endpoint: str,
    base: TrainConfig,
    strategies: list[str],
    epsilons: list[float],
    seeds: list[int],
    baselines: list[str],
    checkpoint_dir: str | Path | None,
    device: torch.device = torch.device("cpu"),
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Train and evaluate every run of one fold.

    Returns:
        (metrics, ledger, rounds): one row per run (and per local site for 'local'),
        the privacy ledger rows, and the training loss of every round.
    """
    torch.set_num_threads(1)
    n_bins = settings.n_bins
    metrics, ledger, rounds = [], [], []
    jobs = [(s, e) for s in strategies for e in epsilons]
    if "pooled" in baselines:
        jobs.append(("pooled", math.inf))
    if "local" in baselines:
        jobs += [("local", e) for e in epsilons]
    prepared = {}  # pooled statistics and design matrices depend only on the release mode
    for mode in {"dp" if math.isfinite(e) else "exact" for _, e in jobs}:
        stats = combine_releases(list(inputs.releases[mode].values()), settings)
        designs = {s: design_matrix(p, settings, stats, endpoint) for s, p in inputs.train_sites.items()}
        prepared[mode] = (stats, designs, design_matrix(inputs.test_patients, settings, stats, endpoint))
    for strategy, epsilon in jobs:
        mode = "dp" if math.isfinite(epsilon) else "exact"
        releases = inputs.releases[mode]
        stats, designs, test = prepared[mode]
        for seed in seeds:
            run = f"{strategy}_eps{epsilon_label(epsilon)}_seed{seed}_test-{inputs.test_site}"
            config = replace(base, strategy="fedavg" if strategy in BASELINES else strategy, epsilon=epsilon, seed=seed)
            if strategy == "local":
                groups = [(s, [s]) for s in designs]  # each site alone
            else:
                groups = [(strategy if strategy == "pooled" else "federation", list(designs))]
            for group_name, members in groups:
                if strategy == "pooled":
                    clients = [Client("pooled", pooled_design([designs[s] for s in members]), config, n_bins, [], device)]
                    site_n = {"pooled": 1.0}
                else:
                    clients = [
                        Client(s, designs[s], config, n_bins, [Mechanism(**m) for m in releases[s]["mechanisms"]], device)
                        for s in members
                    ]
                    site_n = {s: stats["site_n"][s] for s in members}
                checkpoint = None if checkpoint_dir is None else Path(checkpoint_dir) / f"{run}_{group_name}.pt"
                state = run_federated(clients, config, test.x.shape[1], n_bins, site_n, checkpoint=checkpoint)
                scores = harrell(test, risk_scores(state.weights, config.model, test, n_bins, seed))
                metrics.append(
                    {"endpoint": endpoint, "strategy": strategy, "epsilon": epsilon_label(epsilon), "seed": seed,
                     "test_site": inputs.test_site, "trained_on": group_name if strategy == "local" else "+".join(members),
                     "n": len(test.time), "events": int(test.status.sum()), **scores,
                     "max_site_epsilon": max(c.epsilon() for c in clients)}
                )  # fmt: skip
                for c in clients:
                    note = "no DP (epsilon = inf): exact releases, plain SGD" if not config.private else ""
                    ledger += ledger_rows(f"{run}_{group_name}", c.site_id, c.history(), c.delta, note)
                rounds += [{"run": f"{run}_{group_name}", **row} for row in state.log]
    return pd.DataFrame(metrics), pd.DataFrame(ledger, columns=LEDGER_COLUMNS), pd.DataFrame(rounds)


def write_fold_outputs(metrics: pd.DataFrame, ledger: pd.DataFrame, rounds: pd.DataFrame, out_metrics, out_ledger, out_rounds) -> None:
    write_tsv(out_metrics, metrics)
    write_tsv(out_ledger, ledger)
    write_tsv(out_rounds, rounds)


