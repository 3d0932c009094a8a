"""The coordinator of a federation: it sees only what sites release (their preprocessing
aggregates and, each round, their model weights) and never a patient row.

:func:`combine_releases` pools the sites' released aggregates into the statistics every
site standardises with and the time bins; :func:`run_federated` runs the rounds, combining
the sites' weights by FedAvg, FedProx (clients add a proximal term) or FedAdam (server-side
Adam on the averaged update), with sites dropping out at random each round. Every round is
checkpointed, so a killed run resumes with exactly the weights of an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from fedheme.io import atomic_path
from fedheme.models.networks import build_network
from fedheme.models.timebins import bin_edges_from_histogram
from fedheme.seeding import derived_seed

if TYPE_CHECKING:
    from fedheme.federated.client import Client
    from fedheme.federated.config import TrainConfig
    from fedheme.federated.config import DesignSettings


def combine_releases(releases: list[dict], settings: DesignSettings) -> dict:
    """Pool released aggregates: feature means and sds (in scaled units), binary prevalences,
    the bin edges of each endpoint and each site's (released) patient count."""
    numeric = np.array([r["numeric"] for r in releases]).sum(axis=0)
    binary = np.array([r["binary"] for r in releases]).reshape(len(releases), -1).sum(axis=0)
    features: dict[str, dict] = {}
    for i, name in enumerate(settings.spec.numeric):
        n, s, ss = numeric[1 + 3 * i : 4 + 3 * i]
        n = max(n, 2.0)
        mean = float(np.clip(s / n, -1, 1))
        # scaled values lie in [-1, 1]: their sd is at most 1; a noisy release can say less
        # than nothing, so the sd is kept within [0.05, 1]
        sd = float(np.clip(math.sqrt(max(ss / n - mean**2, 0.0)), 0.05, 1.0))
        features[name] = {"kind": "numeric", "mean": mean, "sd": sd}
    for i, name in enumerate(settings.spec.binary):
        n, ones = binary[2 * i : 2 * i + 2]
        features[name] = {"kind": "binary", "mean": float(np.clip(ones / n, 0.0, 1.0)) if n > 0 else 0.0}
    edges = {}
    for endpoint in settings.survival_endpoints:
        pooled = np.sum([r["histograms"][endpoint] for r in releases], axis=0)
        edges[endpoint] = bin_edges_from_histogram(pooled, settings.n_bins, settings.horizon).tolist()
    return {
        "sites": [r["site_id"] for r in releases],
        "site_n": {r["site_id"]: max(float(r["numeric"][0]), 1.0) for r in releases},
        "features": features,
        "bin_edges": edges,
        "horizon": settings.horizon,
    }


@dataclass
class ServerState:
    """Everything needed to resume: the round reached, weights, FedAdam moments, histories."""

    round: int
    weights: dict
    fingerprint: str = ""
    adam_m: dict = field(default_factory=dict)
    adam_v: dict = field(default_factory=dict)
    accountants: dict = field(default_factory=dict)
    log: list = field(default_factory=list)
    averaged: dict = field(default_factory=dict)
    n_averaged: int = 0

    def released_weights(self) -> dict:
        """The model the run releases: the tail average when one was kept, else the last weights."""
        if not self.n_averaged:
            return self.weights
        return {k: v / self.n_averaged for k, v in self.averaged.items()}


def _aggregate(updates: list[tuple[dict, float]], weights: dict) -> dict:
    total = sum(w for _, w in updates)
    return {k: sum(u[k] * (w / total) for u, w in updates) - weights[k] for k in weights}


def run_fingerprint(clients: list[Client], config: TrainConfig, n_features: int, n_bins: int, site_n: dict) -> str:
    """Identifies a run: settings, model shape, sites and a digest of each site's data."""
    h = hashlib.sha256(repr((config, n_features, n_bins, sorted(site_n.items()))).encode())
    for client in clients:
        client.update_fingerprint(h)  # each site hashes its own data; the server sees the digest
    return h.hexdigest()


def run_federated(
    clients: list[Client],
    config: TrainConfig,
    n_features: int,
    n_bins: int,
    site_n: dict[str, float],
    checkpoint: str | Path | None = None,
    stop_after: int | None = None,
) -> ServerState:
    """Train ``config.rounds`` rounds with the clients in this process; resume from
    ``checkpoint`` when it exists. The run's model is :meth:`ServerState.released_weights`
    (the tail average with ``average_last``).

    Args:
        clients: the participating sites.
        site_n: each site's released patient count (weights of the average).
        checkpoint: file written after every round (atomically), with the clients'
            accountants (each site keeps its own in a networked run).
        stop_after: end after this round (for tests of kill-and-resume).
    """
    fingerprint = run_fingerprint(clients, config, n_features, n_bins, site_n)
    initial = build_network(config.model, n_features, n_bins, config.seed, n_treatment=clients[0].n_treatment, task=clients[0].task)
    by_site = {c.site_id: c for c in clients}

    def train_round(sites: list[str], weights: dict, round_index: int) -> list[tuple[dict, float]]:
        return [by_site[s].train(weights, round_index) for s in sites]

    def resumed(state: ServerState) -> None:
        for client in clients:
            client.accountant.history = [tuple(h) for h in state.accountants[client.site_id]]

    def finished(state: ServerState) -> None:
        state.accountants = {c.site_id: list(c.accountant.history) for c in clients}

    return run_rounds(list(by_site), config, initial.state_dict(), site_n, train_round, fingerprint=fingerprint,
                      checkpoint=checkpoint, stop_after=stop_after, on_resume=resumed, on_round=finished)  # fmt: skip


def present_sites(sites: list[str], config: TrainConfig, round_index: int) -> list[str]:
    """The sites taking part in a round: each drops out with probability
    ``config.dropout``, drawn from the run's public seed (at least one site stays)."""
    rng = np.random.default_rng(derived_seed(config.seed, round_index, "dropout"))
    return [s for s in sites if rng.random() >= config.dropout] or [sites[int(rng.integers(len(sites)))]]


def run_rounds(
    sites: list[str],
    config: TrainConfig,
    initial: dict,
    site_n: dict[str, float],
    train_round,
    *,
    fingerprint: str,
    checkpoint: str | Path | None = None,
    stop_after: int | None = None,
    on_resume=None,
    on_round=None,
) -> ServerState:
    """The coordinator's rounds, whatever carries the messages (this process or a network).

    Args:
        sites: the participating sites, in a fixed order (the order of the weighted sum).
        initial: the global model's initial weights (name -> tensor).
        site_n: each site's released patient count (weights of the average).
        train_round: ``(sites, weights, round) -> [(new weights, mean loss), ...]``, one
            pair per site in ``sites``: the present sites' local training from ``weights``.
        fingerprint: identifies the run; a checkpoint of another run is ignored.
        checkpoint: file written after every round (atomically); resumed when it exists.
        stop_after: end after this round (for tests of kill-and-resume).
        on_resume, on_round: called with the state after resuming a checkpoint and after
            each round, before it is checkpointed.
    """
    state = ServerState(0, initial, fingerprint)
    if checkpoint is not None and Path(checkpoint).exists():
        saved = torch.load(checkpoint, weights_only=False)
        # resume only the same run: a checkpoint of other settings or data is ignored
        if getattr(saved, "fingerprint", None) == fingerprint:
            state = saved
            if on_resume is not None:
                on_resume(state)
    for round_index in range(state.round + 1, config.rounds + 1):
        present = present_sites(sites, config, round_index)
        results = train_round(present, state.weights, round_index)
        updates = [({k: w[k] for k in state.weights}, site_n[s]) for s, (w, _) in zip(present, results)]
        losses = [loss for _, loss in results]
        delta = _aggregate(updates, state.weights)
        before = {k: v.clone() for k, v in state.weights.items()}
        if config.strategy == "fedadam":
            for k, d in delta.items():
                g = -d
                m = config.beta1 * state.adam_m.get(k, torch.zeros_like(g)) + (1 - config.beta1) * g
                v = config.beta2 * state.adam_v.get(k, torch.zeros_like(g)) + (1 - config.beta2) * g * g
                state.adam_m[k], state.adam_v[k] = m, v
                state.weights[k] = state.weights[k] - config.server_lr * m / (torch.sqrt(v) + config.tau)
        else:
            state.weights = {k: state.weights[k] + delta[k] for k in state.weights}
        state.round = round_index
        if round_index > config.rounds - config.average_rounds:
            state.averaged = {k: state.averaged.get(k, 0.0) + v for k, v in state.weights.items()}
            state.n_averaged += 1
        if on_round is not None:
            on_round(state)
        # the global model's change: post-processing of the sites' (DP) updates; the sites'
        # training loss is an exact function of their patients, so only runs without DP log it
        norm = float(torch.sqrt(sum(((state.weights[k] - before[k]) ** 2).sum() for k in state.weights)))
        entry = {"round": round_index, "sites": len(present), "update_norm": norm}
        if not config.private:
            entry["mean_train_loss"] = float(np.mean(losses))
        state.log.append(entry)
        if checkpoint is not None:
            with atomic_path(checkpoint) as tmp:
                torch.save(state, tmp)
        if stop_after is not None and round_index >= stop_after:
            break
    return state
