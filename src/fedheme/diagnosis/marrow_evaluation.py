"""The marrow-blast classifier evaluated inside a test site, on its own patients.

For one fold's bundle (``loso-<site>``: all the site's patients; ``within``: its test
split), every model and the peripheral-blast rule (:func:`fedheme.diagnosis.marrow.peripheral_rule`)
are scored on the same patients with the same bootstrap weights (drawn from the site's
secret key):

* for marrow blasts >= the first cut point (5%), as a binary question: AUROC, AUPRC,
  Brier score and calibration in the large of P(>= 5%) (:func:`fedheme.evaluation.metrics.evaluate_binary`);
* for the categories: the macro one-vs-rest AUROC (the mean over classes of the AUROC of
  p_c for class c against the rest, unweighted, as scikit-learn's
  ``roc_auc_score(multi_class='ovr', average='macro')``; Fawcett, Pattern Recognit Lett
  2006;27:861-74) and the balanced accuracy of the
  most probable class (the mean over classes of its recall; Brodersen et al., ICPR 2010).

Like the prognostic evaluation (:mod:`fedheme.evaluation.site`), the site releases per model
and metric the estimate, its percentile interval, bootstrap standard error and pooling
weight, and calibration groups of P(>= 5%) for one model declared before evaluation, in
the ``loso`` design; its predictions stay in its private folder.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from fedheme.data.splits import subset_rows
from fedheme.diagnosis.marrow import RULE_CUTS, peripheral_rule
from fedheme.evaluation.metrics import (
    EvaluationSettings,
    MetricValue,
    SiteOutcome,
    evaluate_binary,
    mean_over_models,
    metric_value,
    weighted_auroc,
)
from fedheme.evaluation.site import grouped_runs
from fedheme.evaluation.tables import CALIBRATION_COLUMNS, DIGITS, METRIC_COLUMNS
from fedheme.federated.config import DesignSettings
from fedheme.federated.design import design_matrix
from fedheme.folds import Fold
from fedheme.models.bundle import bundle_model
from fedheme.privacy.randomness import SiteRandomness

#: The multiclass metrics, beside the binary ones of P(>= first cut) (``<metric>_ge<cut>``).
MULTICLASS_METRICS = ["macro_auroc", "balanced_accuracy"]


def threshold_name(metric: str, cut: float) -> str:
    """A binary metric of marrow blasts >= ``cut`` percent: ``auroc_ge5``."""
    return f"{metric}_ge{cut:g}"


def macro_auroc(W: np.ndarray, label: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Macro one-vs-rest AUROC per replicate of ``W`` (B, n): the mean over classes of the
    AUROC of ``scores[:, c]`` (n, C) for ``label == c`` (ties count one half); NaN where a
    class or its complement is absent from a replicate. Shape (B,)."""
    per_class = [weighted_auroc(W, label == c, scores[:, c]) for c in range(scores.shape[1])]
    return np.mean(per_class, axis=0)


def balanced_accuracy(W: np.ndarray, label: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """Mean over classes of the recall of ``predicted`` (n,) per replicate of ``W`` (B, n);
    NaN where a class is absent from a replicate. Shape (B,)."""
    recalls = []
    for c in range(n_classes):
        members = (W * (label == c)).sum(axis=1)
        hits = (W * ((label == c) & (predicted == c))).sum(axis=1)
        recalls.append(np.divide(hits, members, out=np.full(len(members), np.nan), where=members > 0))
    return np.mean(recalls, axis=0)


def classification_metrics(outcome: SiteOutcome, label: np.ndarray, scores: np.ndarray, predicted: np.ndarray,
                           settings: EvaluationSettings, *, min_class: int) -> list[MetricValue]:  # fmt: skip
    """The multiclass metrics (:data:`MULTICLASS_METRICS`) of one model's class scores (n, C)
    and predicted classes (n,), or NA with the reason when a class has fewer than
    ``min_class`` patients at the site."""
    W = outcome.weights
    B, n, C = W.shape[0], len(label), scores.shape[1]
    if np.bincount(label, minlength=C).min() < min_class:
        # no class sizes in the note: they would be small counts, released
        note = f"a class has fewer than {min_class} patients at the test site: not estimated"
        return [MetricValue(m, math.nan, math.nan, math.nan, 0.0, np.full(B, math.nan), np.zeros(B), note) for m in MULTICLASS_METRICS]
    ones, patients = np.ones((1, n)), np.full(B, float(n))
    return [
        metric_value("macro_auroc", float(macro_auroc(ones, label, scores)[0]), "", macro_auroc(W, label, scores), n, patients, settings),
        metric_value("balanced_accuracy", float(balanced_accuracy(ones, label, predicted, C)[0]), "",
                balanced_accuracy(W, label, predicted, C), n, patients, settings),
    ]  # fmt: skip


def _restricted(outcome: SiteOutcome, mask: np.ndarray) -> SiteOutcome:
    """The patients of ``mask`` with their columns of the bootstrap weights."""
    out = SiteOutcome(outcome.time[mask], outcome.event[mask])
    out.weights = outcome.weights[:, mask]
    return out


def _renamed(values: list[MetricValue], cut: float) -> list[MetricValue]:
    for v in values:
        v.metric = threshold_name(v.metric, cut)
    return values


def evaluate_marrow_site(bundle: dict, patients: pd.DataFrame, *, design_settings: DesignSettings, settings: EvaluationSettings,
                         disease: str, site_id: str, randomness: SiteRandomness,
                         declared: tuple[str, str, str]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """Every model of one fold's bundle and the peripheral-blast rule at one test site.

    Args:
        bundle: the classifier's bundle of one fold (task ``softmax``).
        patients: the site's harmonised patients (all rows; the fold picks the subset).
        design_settings: the classifier's (:func:`fedheme.diagnosis.marrow.design_settings`).
        declared: (strategy, epsilon, seed) of the model whose calibration groups are
            released (``loso`` design only).

    Returns:
        (metrics, calibration, predictions): released metric rows (:data:`METRIC_COLUMNS`
        and ``weight``), released calibration groups of P(>= first cut), and the
        patients' class probabilities (private).
    """
    fold, endpoint, cuts = bundle["fold"], bundle["endpoint"], list(bundle["categories"])
    design = Fold.parse(fold).design
    rows = subset_rows(patients, Fold.parse(fold).test_subset)
    matrices = {mode: design_matrix(rows, design_settings, stats, endpoint) for mode, stats in bundle["stats"].items()}
    reference = next(iter(matrices.values()))
    label, C = reference.bin_index, len(cuts) + 1
    high = label >= 1
    outcome = SiteOutcome(np.zeros(len(label)), high)
    outcome.draw(settings, randomness.numpy("bootstrap", endpoint, fold, settings.seed))
    base = {"disease": disease, "endpoint": endpoint, "design": design, "test_site": site_id, "n": len(label), "events": int(high.sum())}
    results, calibration, predictions = [], [], []
    for (strategy, epsilon, seed), runs in grouped_runs(bundle, design=design, site_id=site_id).items():
        per_model = []
        for run in runs:
            with torch.no_grad():
                p = bundle_model(bundle, run).probabilities(torch.from_numpy(matrices[run["mode"]].x)).numpy().astype(float)
            keys = {"design": design, "strategy": strategy, "epsilon": epsilon, "seed": str(seed), "trained_on": run["trained_on"]}
            p_high = 1.0 - p[:, 0]
            binary, groups = evaluate_binary(outcome, p_high, p_high, settings)
            per_model.append(_renamed(binary, cuts[0]) + classification_metrics(outcome, label, p, p.argmax(axis=1), settings,
                                                                                 min_class=settings.min_cell_count))  # fmt: skip
            predictions.append(pd.DataFrame({**keys, "patient_id": reference.patient_id, "label": label,
                                             **{f"p{c}": p[:, c] for c in range(C)}}))  # fmt: skip
            if design == "loso" and (strategy, epsilon, str(seed)) == tuple(map(str, declared)) and len(runs) == 1:
                calibration += [{"disease": disease, "endpoint": endpoint, **keys, "test_site": site_id, **g.__dict__} for g in groups]
        values = per_model[0] if len(per_model) == 1 else mean_over_models(per_model, settings)
        results.append(({"strategy": strategy, "epsilon": epsilon, "seed": str(seed)}, values))
    results.append(({"strategy": "peripheral_blasts", "epsilon": None, "seed": None}, _rule_metrics(rows, reference, outcome, label, cuts, settings)))
    metrics = pd.DataFrame([{**base, **keys, "metric": v.metric, "value": v.value, "ci_low": v.ci_low, "ci_high": v.ci_high, "se": v.se,
                             "note": v.note, "weight": v.weight} for keys, values in results for v in values])  # fmt: skip
    metrics = metrics[METRIC_COLUMNS + ["weight"]].round({c: DIGITS for c in ("value", "ci_low", "ci_high", "se")})
    calibration = pd.DataFrame(calibration, columns=CALIBRATION_COLUMNS).round(
        {c: DIGITS for c in ("predicted_risk", "observed_risk", "observed_low", "observed_high")}
    )
    return metrics, calibration, pd.concat(predictions, ignore_index=True)


def _rule_metrics(rows: pd.DataFrame, reference, outcome: SiteOutcome, label: np.ndarray, cuts: list[float],
                  settings: EvaluationSettings) -> list[MetricValue]:  # fmt: skip
    """The peripheral-blast rule on the patients with a peripheral blast count: its value
    orders them for the binary metrics (no probability: Brier and calibration NA); its class
    (:data:`fedheme.diagnosis.marrow.PERIPHERAL_CUTS`) scores the multiclass ones, one-hot,
    when the classifier's cut points are the ones the rule reads (:data:`RULE_CUTS`)."""
    pb = rows.set_index("patient_id")["pb_blast_pct"].reindex(reference.patient_id).to_numpy(dtype=float)
    known = np.isfinite(pb)
    binary, _ = evaluate_binary(outcome, np.nan_to_num(pb), None, settings, subset=known)
    values = _renamed(binary, cuts[0])
    C = len(cuts) + 1
    if tuple(float(c) for c in cuts) == RULE_CUTS:
        rule = peripheral_rule(pb)[known]
        values += classification_metrics(_restricted(outcome, known), label[known], np.eye(C)[rule], rule, settings,
                                         min_class=settings.min_cell_count)  # fmt: skip
    else:
        B = outcome.weights.shape[0]
        note = f"the rule's classes are marrow blasts cut at {list(RULE_CUTS)}%, the classifier's at {list(cuts)}%"
        values += [MetricValue(m, math.nan, math.nan, math.nan, 0.0, np.full(B, math.nan), np.zeros(B), note) for m in MULTICLASS_METRICS]
    for v in values:
        v.note = "; ".join(filter(None, [f"{int(known.sum())} of {len(pb)} patients have a peripheral blast count", v.note]))
    return values
