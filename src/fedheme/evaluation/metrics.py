"""Survival metrics of one model at one test site, with bootstrap confidence intervals.

Point estimates come from scikit-survival (Harrell's C, Uno's C, cumulative/dynamic AUC,
integrated Brier score) and lifelines-compatible Kaplan-Meier for calibration;
intervals are percentile intervals over bootstrap replicates that resample patients
within the test site (:mod:`fedheme.evaluation.bootstrap` computes all replicates at once). The
censoring distribution of the IPCW metrics is estimated at the test site itself, so
no outcome leaves it.

Every metric is returned with a ``weight`` that pools it over test sites: comparable
pairs for Harrell's C (so the pooled value is exactly Harrell's C over within-site
pairs) and patients for the others.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from sksurv.metrics import concordance_index_censored, concordance_index_ipcw, cumulative_dynamic_auc, integrated_brier_score
from sksurv.util import Surv

from fedheme.evaluation import bootstrap
from fedheme.evaluation.tables import POOLED_ONLY


@dataclass(frozen=True)
class EvaluationSettings:
    """The ``evaluation`` block of config.

    Attributes:
        n_bootstrap: bootstrap replicates per test site.
        confidence: level of the percentile intervals.
        uno_tau: truncation time of Uno's C (years).
        auc_times: times of the cumulative/dynamic AUC (years).
        ibs_times: (start, end, points) of the integrated Brier score grid (years).
        calibration_time: horizon of the calibration (years).
        calibration_groups: risk groups (deciles by default); fewer when a group would
            hold fewer than ``min_cell_count`` patients.
        min_events: a test site with fewer events reports NA.
        min_cell_count: smallest group released across sites.
        seed: seed of the bootstrap draws (combined with the site).
    """

    n_bootstrap: int = 200
    confidence: float = 0.95
    uno_tau: float = 5.0
    auc_times: tuple[float, ...] = (1.0, 2.0, 5.0)
    ibs_times: tuple[float, float, int] = (0.25, 5.0, 20)
    calibration_time: float = 2.0
    calibration_groups: int = 10
    min_events: int = 10
    min_cell_count: int = 5
    seed: int = 1

    @classmethod
    def from_config(cls, evaluation: dict, min_cell_count: int) -> "EvaluationSettings":
        ibs = evaluation["ibs_years"]
        return cls(
            n_bootstrap=int(evaluation["n_bootstrap"]), confidence=float(evaluation["confidence"]),
            uno_tau=float(evaluation["uno_tau_years"]), auc_times=tuple(float(t) for t in evaluation["auc_years"]),
            ibs_times=(float(ibs[0]), float(ibs[1]), int(evaluation["ibs_points"])),
            calibration_time=float(evaluation["calibration_years"]), calibration_groups=int(evaluation["calibration_groups"]),
            min_events=int(evaluation["min_events"]), min_cell_count=int(min_cell_count), seed=int(evaluation["seed"]),
        )  # fmt: skip

    @property
    def ibs_grid(self) -> np.ndarray:
        start, end, points = self.ibs_times
        return np.linspace(start, end, points)

    def metric_names(self) -> list[str]:
        return ["harrell_c", "uno_c"] + [auc_name(t) for t in self.auc_times] + ["ibs", calibration_name(self.calibration_time)]


def auc_name(t: float) -> str:
    return f"auc_{t:g}y"


def calibration_name(t: float) -> str:
    return f"calibration_in_the_large_{t:g}y"


@dataclass
class MetricValue:
    """One metric of one model at one site: the estimate, its interval and replicates (B,).

    The replicates stay inside the site: it releases the estimate, the interval and the
    bootstrap standard error :attr:`se` (with ``weight``), never a replicate."""

    metric: str
    value: float
    ci_low: float
    ci_high: float
    weight: float
    replicates: np.ndarray
    replicate_weights: np.ndarray
    note: str = ""

    @property
    def se(self) -> float:
        """Bootstrap standard error; NaN when the estimate or 10% of the replicates are undefined."""
        finite = self.replicates[np.isfinite(self.replicates)]
        if not math.isfinite(self.value) or len(finite) < max(2, 0.9 * len(self.replicates)):
            return math.nan
        return float(np.std(finite, ddof=1))


@dataclass
class CalibrationGroup:
    """One risk group at the calibration horizon: its size, mean predicted risk and
    Kaplan-Meier observed risk with the bootstrap interval of the latter."""

    group: int
    n: int
    predicted_risk: float
    observed_risk: float
    observed_low: float
    observed_high: float


@dataclass
class SiteOutcome:
    """The evaluated patients of a test site: follow-up (years) and event, shape (n,)."""

    time: np.ndarray
    event: np.ndarray
    weights: np.ndarray = field(init=False)

    def draw(self, settings: EvaluationSettings, rng: np.random.Generator) -> None:
        """Fix the bootstrap weights (B, n) shared by every model evaluated here (paired)."""
        self.weights = bootstrap.multinomial_weights(len(self.time), settings.n_bootstrap, rng)

    @property
    def n_events(self) -> int:
        return int(self.event.sum())


def percentile_interval(replicates: np.ndarray, confidence: float) -> tuple[float, float]:
    """Percentile interval; NaN when fewer than 90% of the replicates are defined."""
    finite = replicates[np.isfinite(replicates)]
    if len(replicates) == 0 or len(finite) < 0.9 * len(replicates):
        return math.nan, math.nan
    alpha = (1 - confidence) / 2
    low, high = np.quantile(finite, [alpha, 1 - alpha])
    return float(low), float(high)


def _try(compute: Callable[[], float]) -> tuple[float, str]:
    try:
        return float(compute()), ""
    except ValueError as err:  # scikit-survival's way of saying "undefined here"
        return math.nan, str(err).split("\n")[0]


def metric_value(name, point, note, replicates, weight, replicate_weights, settings) -> MetricValue:
    low, high = percentile_interval(replicates, settings.confidence) if math.isfinite(point) else (math.nan, math.nan)
    return MetricValue(name, point, low, high, weight, replicates, replicate_weights, note)


def _calibration_groups(risk_at_horizon: np.ndarray, settings: EvaluationSettings) -> np.ndarray:
    """Risk group (0..G-1) of each patient by quantiles of predicted risk; groups that ties
    leave with fewer than ``min_cell_count`` patients are merged into a neighbour."""
    groups = max(1, min(settings.calibration_groups, len(risk_at_horizon) // settings.min_cell_count))
    cuts = np.quantile(risk_at_horizon, np.linspace(0, 1, groups + 1)[1:-1])
    group = np.searchsorted(cuts, risk_at_horizon, side="right")
    return merge_small_groups(group, settings.min_cell_count)


def merge_small_groups(group: np.ndarray, min_size: int) -> np.ndarray:
    """Relabel ordered groups (0..G-1) so that every group holds ``min_size`` patients or
    more: the smallest group joins its smaller neighbour until none is too small (or one
    is left). Labels come back as 0..G'-1 in the same order."""
    labels, counts = np.unique(group, return_counts=True)
    members = [[label] for label in labels]
    sizes = list(counts)
    while len(sizes) > 1 and min(sizes) < min_size:
        i = int(np.argmin(sizes))
        j = i - 1 if i == len(sizes) - 1 or (i > 0 and sizes[i - 1] <= sizes[i + 1]) else i + 1
        low, high = min(i, j), max(i, j)
        members[low:high + 1] = [members[low] + members[high]]
        sizes[low:high + 1] = [sizes[low] + sizes[high]]
    out = np.empty_like(group)
    for new, old in enumerate(members):
        out[np.isin(group, old)] = new
    return out


def calibration_in_the_large(time: np.ndarray, event: np.ndarray, risk_at_horizon: np.ndarray, horizon: float, W: np.ndarray) -> np.ndarray:
    """Mean predicted risk minus Kaplan-Meier observed risk at the horizon, per replicate
    of ``W`` (B, n); shape (B,). 0 is calibrated, > 0 over-predicts."""
    return (W * risk_at_horizon).sum(axis=1) / W.sum(axis=1) - (1.0 - bootstrap.kaplan_meier_at(W, time, event, horizon))


def calibration_groups(
    predicted: np.ndarray, observed: Callable[[np.ndarray, np.ndarray], np.ndarray], W: np.ndarray, settings: EvaluationSettings
) -> list[CalibrationGroup]:
    """Risk groups by quantiles of ``predicted`` (n,), each with its mean predicted risk and
    its observed risk with the bootstrap interval.

    Args:
        observed: ``(weights (B, n_g), members (n,) bool) -> (B,)`` the observed risk of a
            group per replicate (Kaplan-Meier at the horizon, or the event proportion).
    """
    group = _calibration_groups(predicted, settings)
    out = []
    for g in np.unique(group):
        members = group == g
        point = float(observed(np.ones((1, int(members.sum()))), members)[0])
        low, high = percentile_interval(observed(W[:, members], members), settings.confidence)
        out.append(CalibrationGroup(int(g), int(members.sum()), float(predicted[members].mean()), point, low, high))
    return out


def evaluate_risk(
    outcome: SiteOutcome,
    risk: np.ndarray,
    survival: Callable[[np.ndarray], np.ndarray] | None,
    settings: EvaluationSettings,
    subset: np.ndarray | None = None,
) -> tuple[list[MetricValue], list[CalibrationGroup]]:
    """Every metric of one model's predictions at one site.

    Args:
        outcome: the site's evaluated patients, with bootstrap weights drawn.
        risk: risk score (higher = earlier event), shape (n,).
        survival: ``times -> (n, len(times))`` event-free probabilities, or None for a
            score without them (a clinical score): IBS and calibration are then NA.
        subset: boolean mask (n,) of patients the model can score (a clinical score
            needs its variables); the others are left out, in the replicates too.
    """
    mask = np.ones(len(outcome.time), bool) if subset is None else subset
    time, event, risk = outcome.time[mask], outcome.event[mask].astype(bool), risk[mask]
    W = outcome.weights[:, mask]
    names = settings.metric_names()
    B, n = W.shape[0], int(mask.sum())
    pairs = bootstrap.comparable_pairs(np.ones((1, n)), time, event)[0]

    def harrell(note_prefix: str = "") -> MetricValue:
        point, note = _try(lambda: concordance_index_censored(event, time, risk)[0])
        note = "; ".join(filter(None, [note_prefix, note]))
        return metric_value("harrell_c", point, note, bootstrap.harrell_c(W, time, event, risk), pairs, bootstrap.comparable_pairs(W, time, event), settings)

    if int(event.sum()) < settings.min_events:
        note = f"{int(event.sum())} events at the test site, fewer than {settings.min_events}: not estimated"
        # too few for a row of its own, its comparable pairs still belong in the pooled C
        pooled_only = harrell(f"{int(event.sum())} events at the test site, fewer than {settings.min_events}: {POOLED_ONLY}")
        return [pooled_only if m == "harrell_c" else MetricValue(m, math.nan, math.nan, math.nan, 0.0, np.full(B, math.nan), np.zeros(B), note)
                for m in names], []  # fmt: skip
    y = Surv.from_arrays(event, time)
    values = [harrell()]
    patients = np.full(B, float(n))
    point, note = _try(lambda: concordance_index_ipcw(y, y, risk, tau=settings.uno_tau)[0])
    values.append(metric_value("uno_c", point, note, bootstrap.uno_c(W, time, event, risk, settings.uno_tau), n, patients, settings))
    auc = bootstrap.cumulative_dynamic_auc(W, time, event, risk, np.asarray(settings.auc_times))
    for k, t in enumerate(settings.auc_times):
        point, note = _try(lambda: cumulative_dynamic_auc(y, y, risk, [t])[0][0])
        values.append(metric_value(auc_name(t), point, note, auc[:, k], n, patients, settings))
    groups: list[CalibrationGroup] = []
    if survival is None:
        note = "a risk score without survival probabilities"
        for name in ("ibs", calibration_name(settings.calibration_time)):
            values.append(MetricValue(name, math.nan, math.nan, math.nan, 0.0, np.full(B, math.nan), np.zeros(B), note))
        return values, groups
    grid = settings.ibs_grid
    surv = survival(grid)[mask]
    point, note = _try(lambda: integrated_brier_score(y, y, surv, grid))
    values.append(metric_value("ibs", point, note, bootstrap.integrated_brier_score(W, time, event, surv, grid), n, patients, settings))
    horizon_risk = 1.0 - survival(np.array([settings.calibration_time]))[mask, 0]
    name = calibration_name(settings.calibration_time)
    if settings.calibration_time >= time.max():
        values.append(MetricValue(name, math.nan, math.nan, math.nan, 0.0, np.full(B, math.nan), np.zeros(B), "horizon beyond follow-up"))
        return values, groups
    horizon = settings.calibration_time
    point = calibration_in_the_large(time, event, horizon_risk, horizon, np.ones((1, n)))[0]
    replicates = calibration_in_the_large(time, event, horizon_risk, horizon, W)
    values.append(metric_value(name, float(point), "", replicates, n, patients, settings))

    def observed(weights, members):
        return 1.0 - bootstrap.kaplan_meier_at(weights, time[members], event[members], horizon)

    return values, calibration_groups(horizon_risk, observed, W, settings)


def mean_over_models(per_model: list[list[MetricValue]], settings: EvaluationSettings) -> list[MetricValue]:
    """Average each metric over several models on the same patients (the local-only
    baseline of a held-out site: one model per training site), replicate by replicate."""
    out = []
    for parts in zip(*per_model):
        values = np.array([p.value for p in parts])
        replicates = np.mean([p.replicates for p in parts], axis=0)
        point = float(values.mean()) if np.isfinite(values).all() else math.nan
        note = f"mean over {len(parts)} models" + (f"; {parts[0].note}" if parts[0].note else "")
        out.append(metric_value(parts[0].metric, point, note, replicates, parts[0].weight, parts[0].replicate_weights, settings))
    return out


BINARY_METRICS = ["auroc", "auprc", "brier", "calibration_in_the_large"]


def weighted_auroc(W: np.ndarray, event: np.ndarray, risk: np.ndarray) -> np.ndarray:
    """AUROC per replicate (ties count one half): the weighted Mann-Whitney statistic."""

    def kernel(rows):
        diff = risk[rows, None] - risk[None, :]
        tie = np.abs(diff) <= bootstrap.TIED_TOL
        return np.where(tie, 0.5, 0.0) + ((diff > 0) & ~tie)

    case, control = event.astype(float), 1.0 - event.astype(float)
    num = bootstrap._pair_sum(W, np.broadcast_to(case, W.shape), np.broadcast_to(control, W.shape), kernel)
    den = (W * case).sum(axis=1) * (W * control).sum(axis=1)
    return np.divide(num, den, out=np.full(len(num), np.nan), where=den > 0)


def evaluate_binary(
    outcome: SiteOutcome,
    risk: np.ndarray,
    probability: np.ndarray | None,
    settings: EvaluationSettings,
    subset: np.ndarray | None = None,
) -> tuple[list[MetricValue], list[CalibrationGroup]]:
    """AUROC, AUPRC, Brier score and calibration in the large of a binary outcome.

    Args:
        risk: score that orders patients (shape (n,)); ``probability``: predicted
            probability of the event, or None for a score without one (Brier score and
            calibration are then NA).
    """
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    mask = np.ones(len(outcome.event), bool) if subset is None else subset
    event, risk = outcome.event[mask].astype(bool), risk[mask]
    W = outcome.weights[:, mask]
    B, n = W.shape[0], int(mask.sum())
    events, non_events = int(event.sum()), int((~event).sum())
    if min(events, non_events) < settings.min_events:
        note = f"{events} events and {non_events} non-events at the test site, fewer than {settings.min_events}: not estimated"
        return [MetricValue(m, math.nan, math.nan, math.nan, 0.0, np.full(B, math.nan), np.zeros(B), note) for m in BINARY_METRICS], []
    patients = np.full(B, float(n))
    values = [metric_value("auroc", float(roc_auc_score(event, risk)), "", weighted_auroc(W, event, risk), n, patients, settings)]
    ap = np.array([average_precision_score(event, risk, sample_weight=w) if (w * event).sum() > 0 else np.nan for w in W])
    values.append(metric_value("auprc", float(average_precision_score(event, risk)), "", ap, n, patients, settings))
    groups: list[CalibrationGroup] = []
    if probability is None:
        note = "a risk score without probabilities"
        for name in ("brier", "calibration_in_the_large"):
            values.append(MetricValue(name, math.nan, math.nan, math.nan, 0.0, np.full(B, math.nan), np.zeros(B), note))
        return values, groups
    p = probability[mask]
    y = event.astype(float)
    total = W.sum(axis=1)
    brier = (W * (p - y) ** 2).sum(axis=1) / total
    values.append(metric_value("brier", float(brier_score_loss(event, p)), "", brier, n, patients, settings))
    large = (W * (p - y)).sum(axis=1) / total
    values.append(metric_value("calibration_in_the_large", float(np.mean(p - y)), "", large, n, patients, settings))

    def observed(weights, members):
        total = weights.sum(axis=1)
        return np.divide((weights * y[members]).sum(axis=1), total, out=np.full(len(total), np.nan), where=total > 0)

    return values, calibration_groups(p, observed, W, settings)
