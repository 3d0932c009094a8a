"""The coordinator of a networked federation (across sites: it never reads a patient row).

It sees what the nodes send and nothing else: each site's release before training, its
weights after each round, its epsilon and its ledger rows. It pools the releases
(:func:`fedheme.federated.server.combine_releases`), runs the pipeline's rounds
(:func:`fedheme.federated.server.run_rounds`: the same dropout draws, the same weighted
average, FedAdam's moments, the checkpoint that lets a killed coordinator resume) and
writes what the pipeline's training job writes for a fold, so that ``evaluate_site`` and
the figures read a networked training like a simulated one:

* ``models.pt``: the model bundle (:mod:`fedheme.models.bundle`);
* ``ledger.tsv``: every site's ledger rows, as the nodes sent them;
* ``rounds.tsv``: the global model's update norm per round.

How messages travel is the transport's business (:class:`Transport`): Flower's in
:mod:`fedheme.network.server_app`, or nodes called in this process in tests.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pandas as pd

from fedheme.network.study import NetworkRun, load_study_config, read_settings, study_sites


class CoordinationError(RuntimeError):
    """A run the coordinator cannot carry out (a node refused, a bad reply)."""


class Transport(Protocol):
    def ask(self, kind: str, requests: dict[str, tuple[dict, dict | None]]) -> dict[str, tuple[dict, dict | None]]:
        """Send each site its request (``kind``: ``release`` or ``train``; a JSON-able body
        and optional weights) and return each site's reply (body, weights)."""


@dataclass(frozen=True)
class CoordinatorSettings:
    """A coordinator's run file (TOML, ``fedheme coordinate --config FILE``).

    Attributes:
        runs: the runs to train, one after the other (a ``[[run]]`` table each).
        sites: the training sites, in the study's site order (the order of the sums): the
            fold's training sites of the site sheet, every one of them.
        study_config: the study's config files, merged in order.
        site_sheet: the study's site sheet.
        out: where ``models.pt``, ``ledger.tsv``, ``rounds.tsv`` and checkpoints land
            (the pipeline's ``results/<disease>/training/<endpoint>/<fold>`` to evaluate it
            with the workflow).
        network: how to reach the SuperLink (:mod:`fedheme.network.processes`).
    """

    runs: tuple[NetworkRun, ...]
    sites: tuple[str, ...]
    study_config: tuple[Path, ...]
    site_sheet: Path
    out: Path
    network: dict = field(default_factory=dict)

    @property
    def nodes_file(self) -> Path:
        """Node id -> site of every registered (authenticated) node, when keys were given."""
        return self.out / "flower" / "nodes.json"

    @classmethod
    def read(cls, path: str | Path) -> "CoordinatorSettings":
        """Read a run file; relative paths are relative to the file's folder."""
        raw, here = read_settings(path, ("run", "sites", "study_config", "site_sheet", "out"), error=CoordinationError,
                                  what="coordinator's run file")  # fmt: skip
        runs = raw["run"] if isinstance(raw["run"], list) else [raw["run"]]
        try:
            parsed = tuple(NetworkRun.from_dict(r) for r in runs)
        except (KeyError, ValueError) as err:
            raise CoordinationError(f"{path}: a [[run]] needs disease, endpoint, fold, strategy, epsilon, seed ({err})") from err
        if len({(r.disease, r.endpoint, r.fold) for r in parsed}) != 1:
            raise CoordinationError(f"{path}: the runs of one file train one fold (one disease, endpoint and fold)")
        files = raw["study_config"] if isinstance(raw["study_config"], list) else [raw["study_config"]]
        return cls(parsed, tuple(raw["sites"]), tuple(here / f for f in files), here / raw["site_sheet"], here / raw["out"],
                   dict(raw.get("network", {})))  # fmt: skip


def _fingerprint(run: NetworkRun, sites: tuple[str, ...], releases: dict) -> str:
    """Identifies a run's checkpoint: the run, its sites and their releases."""
    return hashlib.sha256(json.dumps([run.to_dict(), list(sites), releases], sort_keys=True).encode()).hexdigest()


def coordinate(transport: Transport, settings: CoordinatorSettings) -> dict:
    """Train every run of ``settings`` over ``transport``; write the fold's bundle, ledger
    and rounds into ``settings.out``; return the bundle."""
    from fedheme.federated.server import combine_releases, run_rounds
    from fedheme.folds import Fold
    from fedheme.grid import dp_release_mode, epsilon_label
    from fedheme.io import write_tsv
    from fedheme.models.bundle import save_bundle
    from fedheme.models.networks import build_network
    from fedheme.privacy.ledger import RUN_LEDGER_COLUMNS

    config = load_study_config(list(settings.study_config))
    first = settings.runs[0]
    study_site_list = study_sites(settings.site_sheet, first.disease)
    for run in settings.runs:
        problems = run.problems(config, study_site_list)
        if problems:
            raise CoordinationError(f"{run.name}: " + "; ".join(problems))
    expected = Fold.parse(first.fold).train_sites(study_site_list)
    if list(settings.sites) != expected:
        raise CoordinationError(f"fold {first.fold} trains on {expected} (the site sheet's order), not {list(settings.sites)}")
    study = first.settings(config)
    n_features = len(study.spec.numeric) + len(study.spec.binary)
    n_bins, task = study.bins(first.endpoint), study.task(first.endpoint)
    sites = settings.sites
    runs, ledger, rounds, all_stats = [], [], [], {}
    for run in settings.runs:
        body = {"run": run.to_dict()}
        replies = transport.ask("release", {s: (body, None) for s in sites})
        releases = {s: replies[s][0]["release"] for s in sites}
        wrong = [s for s in sites if releases[s].get("site_id") != s]
        if wrong:
            raise CoordinationError(f"{run.name}: the nodes answering for {wrong} sent another site's release")
        stats = combine_releases([releases[s] for s in sites], study)
        mode = dp_release_mode(run.seed) if run.private else "exact"
        all_stats[mode] = stats
        last = {s: replies[s][0] for s in sites}  # each site's latest reply: its ledger and epsilon
        config_run = run.train_config(config)

        def train_round(present: list[str], weights: dict, round_index: int, run=run, stats=stats, last=last) -> list:
            body = {"run": run.to_dict(), "stats": stats, "round": round_index}
            answers = transport.ask("train", {s: (body, weights) for s in present})
            out = []
            for s in present:
                reply, new_weights = answers[s]
                last[s] = reply
                out.append((new_weights, math.nan if reply.get("loss") is None else float(reply["loss"])))
            return out

        initial = build_network(config_run.model, n_features, n_bins, config_run.seed, task=task).state_dict()
        checkpoint = settings.out / "checkpoints" / f"{run.name}_federation.pt"
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        state = run_rounds(list(sites), config_run, initial, stats["site_n"], train_round,
                           fingerprint=_fingerprint(run, sites, releases), checkpoint=checkpoint)  # fmt: skip
        if state.round < config_run.rounds:
            raise CoordinationError(f"{run.name}: stopped at round {state.round} of {config_run.rounds}")
        epsilons = [math.inf if last[s].get("epsilon") is None else float(last[s]["epsilon"]) for s in sites]
        runs.append({"strategy": run.strategy, "epsilon": epsilon_label(run.epsilon), "seed": run.seed, "mode": mode,
                     "trained_on": "+".join(sites), "max_site_epsilon": max(epsilons), "columns": None,
                     "weights": {k: v.detach().cpu().clone() for k, v in state.released_weights().items()},
                     "network": True})  # fmt: skip
        for s in sites:
            ledger += last[s]["ledger"]
        name = f"{run.name}_federation"
        rounds += [{"run": name, "strategy": run.strategy, "epsilon": epsilon_label(run.epsilon), "seed": run.seed, **row} for row in state.log]
    bundle = {"disease": first.disease, "fold": first.fold, "endpoint": first.endpoint, "model": config_run.model, "n_features": n_features, "n_bins": n_bins,
              "stats": all_stats, "runs": runs, "network": True}  # fmt: skip
    if task == "softmax":
        bundle.update(task=task, categories=list(study.categories[first.endpoint]))
        bundle["diagnosis"] = first.diagnosis(config)
    save_bundle(settings.out / "models.pt", bundle)
    write_tsv(settings.out / "ledger.tsv", pd.DataFrame(ledger, columns=RUN_LEDGER_COLUMNS))
    write_tsv(settings.out / "rounds.tsv", pd.DataFrame(rounds))
    return bundle


def check_network_fold(bundle: dict, ledger: pd.DataFrame, *, disease: str, endpoint: str, fold: str, training: dict,
                       sites: list[str], source: str | Path) -> None:  # fmt: skip
    """Refuse a networked training that is not the fold the workflow asks for: another
    fold or endpoint, a run outside the study's grid or not trained on the fold's training
    ``sites`` (every one), or a run some training site has no ledger rows for (its
    releases would be missing from the study's budget).

    Raises:
        CoordinationError: naming ``source`` (the bundle's file), the run and the problem.
    """
    from fedheme.grid import epsilon_label

    if not bundle.get("network"):
        raise CoordinationError(f"{source}: not a networked training (fedheme coordinate writes one)")
    if (bundle.get("disease", disease), bundle["endpoint"], bundle["fold"]) != (disease, endpoint, fold):
        raise CoordinationError(f"{source}: trains {bundle['endpoint']}/{bundle['fold']}, not {endpoint}/{fold} of {disease}")
    grid = {(s, epsilon_label(float(e)), int(seed)) for s in training["strategies"] for e in training["epsilons"] for seed in training["seeds"]}
    for run in bundle["runs"]:
        name = f"{run['strategy']} epsilon {run['epsilon']} seed {run['seed']}"
        if (run["strategy"], run["epsilon"], int(run["seed"])) not in grid:
            raise CoordinationError(f"{source}: run {name} is not in the study's training grid")
        if run["trained_on"] != "+".join(sites):
            raise CoordinationError(f"{source}: run {name} was trained on {run['trained_on']}, not on the fold's sites {'+'.join(sites)}")
        label = f"{run['strategy']}_eps{run['epsilon']}_seed{run['seed']}_{fold}_federation"
        missing = set(run["trained_on"].split("+")) - set(ledger.loc[ledger["run"] == label, "site"])
        if missing:
            raise CoordinationError(f"{source}: run {name} has no ledger rows for sites {sorted(missing)}")
