"""One training job: every run of the grid for one (disease, endpoint, fold).

A fold is ``loso-<site>`` (train on every other site; the site is held out) or ``within``
(train on every site's training split; each site's test split is held out). A run is
(strategy, epsilon, seed): a federated strategy (FedAvg, FedProx, FedAdam) over the
training sites, or a baseline trained the same way: ``pooled`` (all training patients as
one site, no DP: the upper reference), ``local`` (each training site alone) and ``cox``
(lifelines' Cox model on the pooled training sites, no DP: is our optimiser converged?);
for a categorical endpoint ``sklearn`` takes the place of ``cox`` (scikit-learn's
multinomial logistic regression on the pooled training sites, no DP).
Hyperparameters come from config, fixed before any test site is seen.

The job never reads held-out patients: it writes the final weights of every run, with
the pooled statistics they were trained with, into a model bundle; each test site
evaluates the bundle in its own job (:mod:`fedheme.evaluation.site`). In this simulation the
clients of all sites run inside one job; each client object only ever holds its own
site's design matrix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from fedheme.federated.client import Client
from fedheme.federated.config import DesignSettings, TrainConfig
from fedheme.federated.design import DesignMatrix, design_matrix
from fedheme.federated.reference import fit_cox, fit_cox_time_varying, fit_multinomial
from fedheme.federated.server import combine_releases, run_federated
from fedheme.grid import dp_release_mode, epsilon_label, run_name
from fedheme.privacy.accounting import Mechanism
from fedheme.privacy.ledger import RUN_LEDGER_COLUMNS, ledger_rows
from fedheme.privacy.randomness import SiteRandomness, joint_randomness
from fedheme.treatment.coding import TransplantCoding
from fedheme.treatment.cohort import transplant_cohort, transplant_design

BASELINES = ("pooled", "local")


def _cox_runs(designs: dict[str, DesignMatrix], stats: dict, endpoint: str, seeds: list[int],
              treatment: TransplantCoding | None) -> list[dict]:  # fmt: skip
    """The ``cox`` reference on the pooled training sites (deterministic: one fit, listed
    under every seed so that it stands beside every seed's runs): lifelines' Cox model, or
    for the transplant study its time-varying Cox model (kind ``cox_tv``: transplant terms
    beside the federated ones; evaluation leaves it out, it predicts no per-bin hazard)."""
    pooled = pooled_design(list(designs.values()))
    if treatment is None:
        weights, kind = fit_cox(pooled, list(stats["bin_edges"][endpoint]) + [stats["horizon"]], stats["horizon"]), "cox"
    else:
        weights, kind = fit_cox_time_varying(pooled, treatment.knots), "cox_tv"
    return [{"strategy": "cox", "epsilon": "inf", "seed": seed, "mode": "exact", "trained_on": "+".join(designs), "kind": kind,
             "max_site_epsilon": math.inf, "columns": None, "weights": weights} for seed in seeds]  # fmt: skip


def _sklearn_runs(designs: dict[str, DesignMatrix], n_classes: int, seeds: list[int]) -> list[dict]:
    """The ``sklearn`` reference of a categorical endpoint on the pooled training sites
    (deterministic: one fit, listed under every seed): scikit-learn's multinomial logistic
    regression, its weights in the parameters of the linear softmax network (kind
    ``sklearn``)."""
    weights = fit_multinomial(pooled_design(list(designs.values())), n_classes)
    return [{"strategy": "sklearn", "epsilon": "inf", "seed": seed, "mode": "exact", "trained_on": "+".join(designs), "kind": "sklearn",
             "max_site_epsilon": math.inf, "columns": None, "weights": weights} for seed in seeds]  # fmt: skip


#: What each library reference is, in the ledger.
REFERENCE_NOTES = {"cox": "no DP: Cox model (lifelines) on the pooled training sites",
                   "sklearn": "no DP: multinomial logistic regression (scikit-learn) on the pooled training sites"}  # fmt: skip


def _reference_ledger(strategy: str, fold: str, sites: list[str], seeds: list[int], delta: float) -> list[dict]:
    """Every site of a pooled library fit (``cox`` or ``sklearn``), listed as a non-private run."""
    rows = []
    for seed in seeds:
        identity = {"run": f"{run_name(strategy, math.inf, seed, fold)}_{strategy}", "strategy": strategy, "target_epsilon": "inf", "seed": seed}
        for site in sites:
            rows += ledger_rows(identity, site, [Mechanism("non-private training", 0.0, 1.0, 1)], delta, REFERENCE_NOTES[strategy])
    return rows


def resolve_device(name: str) -> torch.device:
    """'cpu', 'gpu' (fails without one) or 'auto' (a GPU when present, else the CPU)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "gpu":
        if not torch.cuda.is_available():
            raise RuntimeError("training.device is 'gpu' but no CUDA device is visible")
        return torch.device("cuda")
    return torch.device("cpu")


def pooled_design(parts: list[DesignMatrix]) -> DesignMatrix:
    """The sites' design matrices stacked (the non-private pooled reference)."""
    fields = ("x", "bin_index", "event", "time", "status", "patient_id")
    treatment = None if parts[0].treatment is None else np.concatenate([p.treatment for p in parts])
    return DesignMatrix(*(np.concatenate([getattr(p, f) for p in parts]) for f in fields), treatment=treatment)


@dataclass(frozen=True)
class FoldInputs:
    """What a fold's job works from (never the held-out patients).

    Attributes:
        fold: ``loso-<site>`` or ``within``.
        train_sites: site id -> harmonised patients used for training.
        releases: released preprocessing aggregates per training site, by mode: 'exact', and
            'dp-s<seed>' (each seed's own DP draw) or 'dp' (one DP release for every seed).
        randomness: each training site's draws (its secret key; the run adds its identity).
    """

    fold: str
    train_sites: dict[str, pd.DataFrame]
    releases: dict[str, dict[str, dict]]
    randomness: dict[str, SiteRandomness]


def _release_mode(epsilon: float, seed, available) -> str:
    """The release a run trains from: exact without DP, else its seed's own DP release
    (``dp-s<seed>``) or, when only one was made, ``dp``."""
    if not math.isfinite(epsilon):
        return "exact"
    own = dp_release_mode(seed)
    return own if own in available else "dp"


def train_fold(
    inputs: FoldInputs,
    *,
    settings: DesignSettings,
    endpoint: str,
    base: TrainConfig,
    strategies: list[str],
    epsilons: list[float],
    seeds: list[int],
    baselines: list[str],
    checkpoint_dir: str | Path | None,
    device: torch.device = torch.device("cpu"),
    marker_features: list[str] | None = None,
    treatment: TransplantCoding | None = None,
) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """Train every run of one fold.

    Args:
        marker_features: when given, one more baseline, ``markers``: the pooled model (no
            DP) on these features only (a clinical model of established markers).
        treatment: when given, the transplant model instead of a prognostic one: overall
            survival with transplant as a time-dependent treatment, on the coding's public
            bins (:mod:`fedheme.treatment.coding`); ``endpoint`` then only names the runs.

    Returns:
        (bundle, ledger, rounds): the model bundle (see :mod:`fedheme.models.bundle`), the privacy
        ledger rows, and the global model's update norm of every round (with the training
        loss of runs without DP only: a DP run's loss would be an unaccounted release).
    """
    torch.set_num_threads(1)
    n_bins = settings.bins(endpoint) if treatment is None else treatment.n_bins
    task = settings.task(endpoint)

    # a site's transplant cohort (IPSS-M, transplant times) does not depend on the release mode: built once
    cohorts = {} if treatment is None else {s: transplant_cohort(p, treatment) for s, p in inputs.train_sites.items()}

    def design(site: str, stats: dict) -> DesignMatrix:
        if treatment is None:
            return design_matrix(inputs.train_sites[site], settings, stats, endpoint)
        return transplant_design(cohorts[site], settings, stats, treatment)

    runs, ledger, rounds = [], [], []
    jobs = [(s, e) for s in strategies for e in epsilons]
    if "pooled" in baselines:
        jobs.append(("pooled", math.inf))
    if marker_features:
        jobs.append(("markers", math.inf))
    if "local" in baselines:
        jobs += [("local", e) for e in epsilons]
    if "cox" in baselines and n_bins > 1 and task == "hazard":  # a survival endpoint: lifelines' Cox model as reference
        jobs.append(("cox", math.inf))
    if "sklearn" in baselines and task == "softmax":  # scikit-learn's multinomial logistic regression as reference
        jobs.append(("sklearn", math.inf))
    prepared = {}  # pooled statistics and design matrices depend only on the release mode
    for mode in sorted({_release_mode(e, seed, inputs.releases) for _, e in jobs for seed in seeds}):
        stats = combine_releases(list(inputs.releases[mode].values()), settings)
        prepared[mode] = (stats, {s: design(s, stats) for s in inputs.train_sites})
    n_features = len(settings.spec.numeric) + len(settings.spec.binary)
    names = settings.spec.names
    marker_columns = [names.index(f) for f in marker_features] if marker_features else None
    for strategy, epsilon in jobs:
        if strategy in REFERENCE_NOTES:
            stats, designs = prepared["exact"]
            if strategy == "cox":
                runs += _cox_runs(designs, stats, endpoint, seeds, treatment)
            else:
                runs += _sklearn_runs(designs, n_bins, seeds)
            ledger += _reference_ledger(strategy, inputs.fold, list(designs), seeds, base.delta)
            continue
        for seed in seeds:
            mode = _release_mode(epsilon, seed, inputs.releases)
            releases = inputs.releases[mode]
            stats, designs = prepared[mode]
            run = run_name(strategy, epsilon, seed, inputs.fold)
            config = replace(base, strategy="fedavg" if strategy in BASELINES + ("markers",) else strategy, epsilon=epsilon, seed=seed)
            columns = marker_columns if strategy == "markers" else None
            if strategy == "local":
                groups = [(s, [s]) for s in designs]  # each site alone
            else:
                groups = [(strategy if strategy in ("pooled", "markers") else "federation", list(designs))]
            for group_name, members in groups:
                if strategy in ("pooled", "markers"):
                    pooled = pooled_design([designs[s] for s in members])
                    if columns is not None:
                        pooled = replace(pooled, x=np.ascontiguousarray(pooled.x[:, columns]))
                    draws = joint_randomness([inputs.randomness[s] for s in members], endpoint, run, group_name)
                    clients = [Client("pooled", pooled, config, n_bins, [], device, randomness=draws, released_n=float(len(pooled.event)), task=task)]
                    site_n = {"pooled": 1.0}
                else:
                    clients = [
                        Client(s, designs[s], config, n_bins, [Mechanism(**m) for m in releases[s]["mechanisms"]], device,
                               randomness=inputs.randomness[s].child(endpoint, run, group_name), released_n=stats["site_n"][s], task=task)
                        for s in members
                    ]
                    site_n = {s: stats["site_n"][s] for s in members}
                checkpoint = None if checkpoint_dir is None else Path(checkpoint_dir) / f"{run}_{group_name}.pt"
                width = n_features if columns is None else len(columns)
                state = run_federated(clients, config, width, n_bins, site_n, checkpoint=checkpoint)
                runs.append(
                    {"strategy": strategy, "epsilon": epsilon_label(epsilon), "seed": seed, "mode": mode,
                     "trained_on": group_name if strategy == "local" else "+".join(members),
                     "max_site_epsilon": max(c.epsilon() for c in clients), "columns": columns,
                     "weights": {k: v.detach().cpu().clone() for k, v in state.released_weights().items()}}
                )  # fmt: skip
                identity = {"run": f"{run}_{group_name}", "strategy": strategy, "target_epsilon": epsilon_label(epsilon), "seed": seed}
                for c in clients:
                    if config.private:
                        ledger += ledger_rows(identity, c.site_id, c.history(), c.delta)
                    else:  # every run is listed: a run without DP is a non-private release
                        for site in members if strategy in ("pooled", "markers") else [c.site_id]:
                            ledger += ledger_rows(identity, site, [c.training_summary(config.rounds)], c.delta,
                                                  "no DP (epsilon = inf): exact releases, plain SGD")  # fmt: skip
                rounds += [{"run": f"{run}_{group_name}", "strategy": strategy, "epsilon": epsilon_label(epsilon), "seed": seed, **row} for row in state.log]
    bundle = {
        "fold": inputs.fold, "endpoint": endpoint, "model": base.model, "n_features": n_features, "n_bins": n_bins,
        "stats": {mode: stats for mode, (stats, _) in prepared.items()}, "runs": runs,
    }  # fmt: skip
    if treatment is not None:
        bundle.update(n_treatment=treatment.n_treatment, treatment=treatment.to_dict())
    if task == "softmax":
        bundle.update(task=task, categories=list(settings.categories[endpoint]))
    return bundle, pd.DataFrame(ledger, columns=RUN_LEDGER_COLUMNS), pd.DataFrame(rounds)
