"""Evaluation releases of a test site in ``deployment`` mode: noisy count tables.

A test site releases nothing exact about its patients. For each evaluated score (the
declared model and each clinical score) it counts its patients in a table of cells
(score group x time bin x event, or score group x event for a binary endpoint) and adds
Gaussian noise of ``privacy.evaluation_noise`` to every cell, drawn from its secret key.
One patient sits in one cell, so each table has L2 sensitivity 1 and is one Gaussian
mechanism in the site's accountant (:mod:`fedheme.privacy.plan`). Score groups and time
bins are public: published categories of the clinical scores
(:data:`fedheme.scores.PUBLISHED_CUTS`; integer stages and rules are their own groups),
``privacy.evaluation_risk_edges`` on the model's predicted risk at the calibration horizon,
and the federation's time bins.

Everything the site writes is computed from the noisy tables (post-processing):

* Harrell's C (AUROC for a binary endpoint) over the cells: pairs in the same time bin are
  not comparable, ties in score group count one half, and cells are clipped at 0, which
  pulls C towards 1/2 (by about 0.07, sd 0.04, at noise sd 5 on 390 simulated patients in
  84 cells: the price of the noise). Its normal interval takes the standard error of a
  parametric bootstrap carrying both the sampling and the release noise (cells redrawn
  as Poisson counts plus Gaussian noise of the same sd);
* n and events: sums of the noisy cells (unbiased);
* calibration groups (predicted: the middle of the group's risk range; observed:
  Kaplan-Meier at the calibration horizon over the cells) and life tables of the
  declared model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from fedheme.evaluation.bootstrap import comparable_pairs, harrell_c, kaplan_meier_at
from fedheme.evaluation.lifetable import life_table, risk_group_labels
from fedheme.evaluation.metrics import MetricValue, weighted_auroc


@dataclass(frozen=True)
class CountTable:
    """A released (noisy) count table, shape (G, T, 2): score group x time bin x event
    (T = 1 for a binary endpoint); cells hold the counts plus noise, as released.

    Attributes:
        counts: the noisy counts.
        group_values: a value per group that orders the groups by risk, shape (G,).
        times: representative follow-up (years) of each time bin, shape (T,).
        noise_sd: sd of the Gaussian noise of each cell.
    """

    counts: np.ndarray
    group_values: np.ndarray
    times: np.ndarray
    noise_sd: float

    def cells(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(time, event, score) of each cell, flattened in the order of ``counts.ravel()``."""
        G, T, _ = self.counts.shape
        g, t, e = np.meshgrid(np.arange(G), np.arange(T), np.arange(2), indexing="ij")
        return self.times[t.ravel()], e.ravel().astype(bool), self.group_values[g.ravel()].astype(float)

    def weights(self) -> np.ndarray:
        """The counts as cell weights, negative noise clipped to 0, shape (1, cells)."""
        return np.clip(self.counts.ravel(), 0.0, None)[None, :]

    def replicates(self, B: int, rng: np.random.Generator) -> np.ndarray:
        """Parametric-bootstrap weights (B, cells): Poisson counts plus the release noise."""
        mean = self.weights()[0]
        return np.clip(rng.poisson(mean, (B, len(mean))) + rng.normal(0.0, self.noise_sd, (B, len(mean))), 0.0, None)


def count_table(groups: np.ndarray, n_groups: int, time_bin: np.ndarray, n_times: int, event: np.ndarray) -> np.ndarray:
    """Exact counts (G, T, 2) of patients by group, time bin and event; patients with a
    negative group (no score) are left out."""
    table = np.zeros((n_groups, n_times, 2))
    keep = groups >= 0
    np.add.at(table, (groups[keep], time_bin[keep], event[keep].astype(int)), 1.0)
    return table


def release_table(exact: np.ndarray, noise_sd: float, rng: np.random.Generator) -> np.ndarray:
    """The Gaussian mechanism on a count table (L2 sensitivity 1)."""
    return exact + rng.normal(0.0, noise_sd, exact.shape)


def time_bins(time: np.ndarray, inner_edges: list[float], horizon: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bin of each follow-up among [0, e1), ..., [e_{K-1}, horizon), [horizon, inf), the
    representative time of each bin (its middle; the horizon for the last) and whether a
    patient's follow-up was cut at the horizon (then censored)."""
    edges = np.concatenate([[0.0], np.asarray(inner_edges, float), [horizon]])
    bins = np.searchsorted(edges[1:], time, side="right")
    middles = np.concatenate([(edges[:-1] + edges[1:]) / 2, [horizon]])
    return bins, middles, time >= horizon


def table_metric(table: CountTable, *, binary: bool, B: int, confidence: float, rng: np.random.Generator) -> MetricValue:
    """Harrell's C (AUROC when ``binary``) of a released table with its interval."""
    time, event, score = table.cells()
    W, reps = table.weights(), table.replicates(B, rng)
    if binary:
        value, values, weight, name = weighted_auroc(W, event, score)[0], weighted_auroc(reps, event, score), float(W.sum()), "auroc"
    else:
        value, values, name = harrell_c(W, time, event, score)[0], harrell_c(reps, time, event, score), "harrell_c"
        weight = float(comparable_pairs(W, time, event)[0])
    note = f"from a noisy count table ({table.counts.shape[0]} score groups; noise sd {table.noise_sd:g} per cell)"
    metric = MetricValue(name, float(value), np.nan, np.nan, weight, values, np.ones((B, 1)), note)
    # redrawn tables carry the release noise twice, which pulls their C towards 1/2: their
    # spread gives the standard error, the interval is the normal one around the estimate
    z = float(norm.ppf(0.5 + confidence / 2))
    if np.isfinite(metric.se):
        metric.ci_low, metric.ci_high = max(0.0, metric.value - z * metric.se), min(1.0, metric.value + z * metric.se)
    return metric


def calibration_rows(table: CountTable, edges: list[float], horizon: float, *, binary: bool, B: int, confidence: float,
                     min_cell_count: int, rng: np.random.Generator) -> list[dict]:  # fmt: skip
    """Per model risk group holding at least ``min_cell_count`` (noisy) patients: the
    middle of its predicted-risk range and the observed risk (Kaplan-Meier at the
    horizon, or the event share) with a normal interval from the parametric bootstrap."""
    bounds = np.concatenate([[0.0], edges, [1.0]])
    z = float(norm.ppf(0.5 + confidence / 2))
    G = table.counts.shape[0]
    out = []
    for g in range(G):
        sub = CountTable(table.counts[g : g + 1], table.group_values[g : g + 1], table.times, table.noise_sd)
        n = float(sub.counts.sum())  # the noisy count, unbiased
        if n < min_cell_count:
            continue
        t, e, _ = sub.cells()
        W, reps = sub.weights(), sub.replicates(B, rng)
        if binary:
            observed = lambda w: (w * e).sum(axis=1) / np.maximum(w.sum(axis=1), 1e-12)  # noqa: E731
        else:
            observed = lambda w: 1.0 - kaplan_meier_at(w, t, e, horizon)  # noqa: E731
        value, spread = float(np.clip(observed(W)[0], 0.0, 1.0)), float(np.nanstd(observed(reps), ddof=1))
        low, high = max(0.0, value - z * spread), min(1.0, value + z * spread)  # normal, as in table_metric
        out.append({"group": g, "n": int(round(n)), "predicted_risk": float((bounds[g] + bounds[g + 1]) / 2),
                    "observed_risk": value, "observed_low": low, "observed_high": high})  # fmt: skip
    return out


def table_life_table(table: CountTable, edges: list[float], thresholds: list[float], step: float, horizon: float,
                     min_at_risk: int) -> pd.DataFrame:  # fmt: skip
    """Life tables by the figures' risk groups (unions of the model's groups) from the
    noisy table, its cells rounded to whole (non-negative) patients."""
    time, event, _ = table.cells()
    counts = np.rint(table.weights()[0]).astype(int)
    lower = np.concatenate([[0.0], edges])[np.arange(table.counts.shape[0])]
    labels = np.array(risk_group_labels(thresholds), dtype=object)
    group_of_cell = np.repeat(labels[np.searchsorted(np.asarray(thresholds, float), lower, side="right")], table.counts.shape[1] * 2)
    keep = counts > 0
    return life_table(np.repeat(time[keep], counts[keep]), np.repeat(event[keep], counts[keep]),
                      np.repeat(group_of_cell[keep], counts[keep]), step, horizon, min_at_risk)  # fmt: skip
