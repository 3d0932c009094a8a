"""Evaluation inside a test site: every model of a fold's bundle and every clinical score,
on the site's own patients, in that site's job (pooling over sites is
:mod:`fedheme.evaluation.pooling`).

Designs:
  * ``loso``: a fold ``loso-<site>`` trains on every other site; ``<site>`` evaluates on
    all its patients;
  * ``within``: the fold ``within`` trains on every site's training split (made inside
    each site, stratified by event); each site evaluates on its own test split.

A test site keeps its predictions and bootstrap replicates in its own job and releases
per model and metric only the estimate, its 95% percentile-bootstrap interval (patients
resampled within the site with weights drawn from the site's secret key), the bootstrap
standard error and the pooling weight, rounded to 4 decimals; pooled intervals follow
from the sites' estimates and standard errors. Calibration groups (merged until each
holds ``min_cell_count`` patients, ties included) and life tables are released for one
model declared before evaluation, in the ``loso`` design. Local-only models are one per
training site: with ``loso`` the test site averages their metrics (replicate by
replicate); with ``within`` it uses its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from fedheme.data.splits import subset_rows
from fedheme.evaluation.lifetable import LIFE_TABLE_COLUMNS, life_table, risk_groups
from fedheme.evaluation.metrics import (
    EvaluationSettings,
    MetricValue,
    SiteOutcome,
    evaluate_binary,
    evaluate_risk,
    mean_over_models,
)
from fedheme.evaluation.tables import CALIBRATION_COLUMNS, DIGITS, METRIC_COLUMNS
from fedheme.federated.config import DesignSettings
from fedheme.federated.design import design_matrix
from fedheme.folds import Fold
from fedheme.models.bundle import bundle_model, model_digest
from fedheme.privacy.randomness import SiteRandomness


def score_column(name: str, scores: pd.DataFrame) -> str:
    """The column holding a clinical score's value: ``<name>_score`` or ``<name>_stage``."""
    for column in (f"{name}_score", f"{name}_stage"):
        if column in scores.columns:
            return column
    raise KeyError(f"clinical score {name!r} has no {name}_score or {name}_stage column among {sorted(scores.columns)}")


def survival_function(model, x: np.ndarray, bin_edges: list[float], horizon: float):
    """``times -> (n, len(times))`` event-free probabilities, linear between bin ends
    (S(0) = 1), held constant after the horizon."""
    with torch.no_grad():
        at_ends = model.survival(torch.from_numpy(x)).numpy().astype(float)
    knots = np.concatenate([[0.0], bin_edges, [horizon]])
    values = np.hstack([np.ones((len(x), 1)), at_ends])

    def evaluate(times: np.ndarray) -> np.ndarray:
        return np.stack([np.interp(times, knots, row) for row in values])

    return evaluate


def grouped_runs(bundle: dict, *, design: str, site_id: str) -> dict[tuple, list[dict]]:
    """A bundle's runs by (strategy, epsilon, seed), as a test site evaluates them: several
    runs under one key are the local-only models of the training sites (their metrics are
    averaged); in the ``within`` design a site's local-only model is its own alone."""
    grouped: dict[tuple, list] = {}
    for run in bundle["runs"]:
        if run["strategy"] == "local" and design == "within" and run["trained_on"] != site_id:
            continue  # within a site, local-only means the site's own model
        grouped.setdefault((run["strategy"], run["epsilon"], run["seed"]), []).append(run)
    return grouped


@dataclass
class SiteEvaluation:
    """What one test site writes: metrics, calibration groups and life tables (shared)
    and its predictions (private)."""

    metrics: pd.DataFrame
    calibration: pd.DataFrame
    life_tables: pd.DataFrame
    predictions: pd.DataFrame


@dataclass(frozen=True)
class SiteInputs:
    """What one test site evaluates a fold with, in its own job.

    Attributes:
        bundle: the fold's model bundle (:mod:`fedheme.models.bundle`).
        patients: the site's harmonised patients (all rows; the fold picks the subset).
        scores: the site's clinical scores (``<baseline>_score`` columns by patient_id).
        baselines: the clinical scores evaluated beside the models.
        design_settings, settings: features and time bins; the evaluation block.
        disease, site_id: named in every released row.
        randomness: the site's draws (its secret key): bootstrap weights and release noise.
        declared: (strategy, epsilon, seed) of the one model whose calibration groups and
            life tables the site releases, declared before evaluation: a second release on
            the same patients could differ from it by one patient, and their difference
            would describe that patient.
        risk_thresholds: predicted-risk cut points (at the calibration horizon) of the
            risk groups of the released life tables (Kaplan-Meier figure).
        km_step: interval of the life tables (years).
    """

    bundle: dict
    patients: pd.DataFrame
    scores: pd.DataFrame
    baselines: list[str]
    design_settings: DesignSettings
    settings: EvaluationSettings
    disease: str
    site_id: str
    randomness: SiteRandomness
    declared: tuple[str, str, str]
    risk_thresholds: tuple[float, ...] = (0.2, 0.5)
    km_step: float = 0.5


def evaluate_site(site: SiteInputs) -> SiteEvaluation:
    """Research mode: every run of a fold's bundle, and each clinical score, at one test
    site; calibration groups and life tables of the declared model in the ``loso`` design."""
    bundle, patients, scores, baselines = site.bundle, site.patients, site.scores, site.baselines
    design_settings, settings, disease, site_id = site.design_settings, site.settings, site.disease, site.site_id
    randomness, declared, risk_thresholds, km_step = site.randomness, site.declared, site.risk_thresholds, site.km_step
    fold, endpoint = bundle["fold"], bundle["endpoint"]
    design = Fold.parse(fold).design
    binary = design_settings.is_binary(endpoint)
    rows = subset_rows(patients, Fold.parse(fold).test_subset)
    any_stats = next(iter(bundle["stats"].values()))
    reference = design_matrix(rows, design_settings, any_stats, endpoint)
    outcome = SiteOutcome(reference.time, reference.status.astype(bool))
    outcome.draw(settings, randomness.numpy("bootstrap", endpoint, fold, settings.seed))
    base = {"disease": disease, "endpoint": endpoint, "design": design, "test_site": site_id,
            "n": len(outcome.time), "events": outcome.n_events}  # fmt: skip
    results: list[tuple[dict, list[MetricValue]]] = []
    calibration, predictions, life_tables = [], [], []
    matrices = {mode: design_matrix(rows, design_settings, stats, endpoint) for mode, stats in bundle["stats"].items()}
    for (strategy, epsilon, seed), runs in grouped_runs(bundle, design=design, site_id=site_id).items():
        per_model = []
        for run in runs:
            stats, x = bundle["stats"][run["mode"]], matrices[run["mode"]].x
            if run.get("columns") is not None:
                x = np.ascontiguousarray(x[:, run["columns"]])
            model = bundle_model(bundle, run)
            with torch.no_grad():
                risk = model.risk(torch.from_numpy(x)).numpy().astype(float)
                at_ends = model.survival(torch.from_numpy(x)).numpy().astype(float)
            keys = {"design": design, "strategy": strategy, "epsilon": epsilon, "seed": str(seed), "trained_on": run["trained_on"]}
            if binary:  # one bin: the event probability is 1 - S
                horizon_risk = 1.0 - at_ends[:, 0]
                values, groups = evaluate_binary(outcome, horizon_risk, horizon_risk, settings)
            else:
                survival = survival_function(model, x, stats["bin_edges"][endpoint], stats["horizon"])
                values, groups = evaluate_risk(outcome, risk, survival, settings)
                horizon_risk = 1.0 - survival(np.array([settings.calibration_time]))[:, 0]
            per_model.append(values)
            predictions.append(pd.DataFrame({**keys, "patient_id": reference.patient_id, "risk": risk, "predicted_risk_horizon": horizon_risk}))
            if design != "loso" or (strategy, epsilon, str(seed)) != tuple(map(str, declared)) or len(runs) > 1:
                continue  # calibration groups and life tables: the declared model only
            calibration += [{"disease": disease, "endpoint": endpoint, **keys, "test_site": site_id, **g.__dict__} for g in groups]
            if not binary:
                table = life_table(outcome.time, outcome.event, risk_groups(horizon_risk, list(risk_thresholds)), km_step,
                                   stats["horizon"], settings.min_cell_count)  # fmt: skip
                life_tables.append(table.assign(**{"disease": disease, "endpoint": endpoint, **keys, "test_site": site_id}))
        values = per_model[0] if len(per_model) == 1 else mean_over_models(per_model, settings)
        results.append(({"strategy": strategy, "epsilon": epsilon, "seed": str(seed)}, values))
    by_patient = scores.set_index("patient_id").reindex(reference.patient_id)
    references = [(name, score_column(name, by_patient), None) for name in baselines]
    if f"oracle_risk_{endpoint}" in by_patient.columns:  # simulated data: the true model, the ceiling
        probability = f"oracle_prob_{endpoint}"
        references.append(("oracle", f"oracle_risk_{endpoint}", probability if binary and probability in by_patient.columns else None))
    for name, column, probability_column in references:
        risk = by_patient[column].to_numpy(dtype=float)
        known = np.isfinite(risk)
        if binary:
            probability = None if probability_column is None else by_patient[probability_column].to_numpy(dtype=float)
            values, _ = evaluate_binary(outcome, np.nan_to_num(risk), probability, settings, subset=known)
        else:
            values, _ = evaluate_risk(outcome, np.nan_to_num(risk), None, settings, subset=known)
        for v in values:
            v.note = "; ".join(filter(None, [f"{int(known.sum())} of {len(risk)} patients have a score", v.note]))
        results.append(({"strategy": name, "epsilon": None, "seed": None}, values))
    calibration = pd.DataFrame(calibration, columns=CALIBRATION_COLUMNS).round(
        {c: DIGITS for c in ("predicted_risk", "observed_risk", "observed_low", "observed_high")}
    )
    km = pd.concat(life_tables, ignore_index=True) if life_tables else pd.DataFrame(columns=LIFE_TABLE_COLUMNS)
    km = km.reindex(columns=["disease", "endpoint", "design", "strategy", "epsilon", "seed", "trained_on", "test_site"] + LIFE_TABLE_COLUMNS)
    return SiteEvaluation(_metric_table(results, base), calibration, km, pd.concat(predictions, ignore_index=True))


def _metric_table(results, base: dict) -> pd.DataFrame:
    """The released metrics: per model and metric the estimate, its interval, its bootstrap
    standard error and its pooling weight, rounded; never a bootstrap replicate."""
    rows = []
    for keys, values in results:
        for v in values:
            rows.append({**base, **keys, "metric": v.metric, "value": v.value, "ci_low": v.ci_low, "ci_high": v.ci_high,
                         "se": v.se, "note": v.note, "weight": v.weight})  # fmt: skip
    metrics = pd.DataFrame(rows)[METRIC_COLUMNS + ["weight"]]
    return metrics.round({c: DIGITS for c in ("value", "ci_low", "ci_high", "se")})




def _model_risk_at_horizon(bundle: dict, run: dict, x: np.ndarray, binary: bool, calibration_time: float, endpoint: str) -> np.ndarray:
    """Each patient's predicted risk of the event by the calibration horizon (binary: the
    event probability)."""
    stats = bundle["stats"][run["mode"]]
    model = bundle_model(bundle, run)
    if binary:
        with torch.no_grad():
            return 1.0 - model.survival(torch.from_numpy(x)).numpy().astype(float)[:, 0]
    survival = survival_function(model, x, stats["bin_edges"][endpoint], stats["horizon"])
    return 1.0 - survival(np.array([calibration_time]))[:, 0]


def declared_run(bundle: dict, declared) -> dict:
    """The bundle's run of the declared model (strategy, epsilon label, seed)."""
    strategy, epsilon, seed = map(str, declared)
    run = next((r for r in bundle["runs"] if (r["strategy"], str(r["epsilon"]), str(r["seed"])) == (strategy, epsilon, seed)), None)
    if run is None:
        raise ValueError(f"{bundle['fold']}: the declared model {tuple(declared)} is not in the bundle")
    return run


def evaluate_site_deployment(site: SiteInputs, *, noise_multiplier: float, risk_edges: list[float]) -> tuple[SiteEvaluation, list[tuple[str, float]]]:
    """``deployment`` mode: the declared model and each clinical score at one test site,
    released as noisy count tables only (:mod:`fedheme.evaluation.noisy`).

    Args:
        noise_multiplier: noise sd of each cell (the tables' L2 sensitivity is 1).
        risk_edges: public cut points of the model's predicted risk at the calibration
            horizon (they include ``site.risk_thresholds``).

    Returns:
        (evaluation, tables): what the site writes, and (score, noise multiplier) of every
        table released, for its accountant and the ledger.
    """
    bundle, scores, baselines, design_settings = site.bundle, site.scores, site.baselines, site.design_settings
    settings, disease, site_id, randomness, declared = site.settings, site.disease, site.site_id, site.randomness, site.declared
    from fedheme.evaluation.noisy import CountTable, calibration_rows, count_table, release_table, table_life_table, table_metric, time_bins
    from fedheme.privacy.plan import evaluation_scores
    from fedheme.scores import CATEGORY_CUTS

    fold, endpoint = bundle["fold"], bundle["endpoint"]
    parsed = Fold.parse(fold)
    binary = design_settings.is_binary(endpoint)
    rows = subset_rows(site.patients, parsed.test_subset)
    strategy, epsilon, seed = map(str, declared)
    run = declared_run(bundle, declared)
    model_id = model_digest(bundle, run)
    stats = bundle["stats"][run["mode"]]
    matrix = design_matrix(rows, design_settings, stats, endpoint)
    if binary:
        time_bin, times, event = np.zeros(len(matrix.status), int), np.array([0.0]), matrix.status.astype(bool)
    else:
        time_bin, times, cut = time_bins(matrix.time, stats["bin_edges"][endpoint], stats["horizon"])
        event = matrix.status.astype(bool) & ~cut
    by_patient = scores.set_index("patient_id").reindex(matrix.patient_id)
    keys = {"disease": disease, "endpoint": endpoint, "design": parsed.design, "test_site": site_id}
    metrics, calibration, life_tables, released = [], [], pd.DataFrame(), []
    for name in evaluation_scores({"baselines": baselines}):
        if name == "model":
            risk = _model_risk_at_horizon(bundle, run, matrix.x, binary, settings.calibration_time, endpoint)
            cuts, labels = list(risk_edges), {"strategy": strategy, "epsilon": epsilon, "seed": seed}
            groups = np.searchsorted(np.asarray(cuts), risk, side="right")
        else:
            risk = by_patient[score_column(name, by_patient)].to_numpy(dtype=float)
            cuts, labels = list(CATEGORY_CUTS[name]), {"strategy": name, "epsilon": None, "seed": None}
            groups = np.where(np.isfinite(risk), np.searchsorted(np.asarray(cuts, float), np.nan_to_num(risk), side="left"), -1)
        exact = count_table(groups, len(cuts) + 1, time_bin, len(times), event)
        # the model's table draws under the model's fingerprint: a new model, a new draw (and charge)
        draw = ("evaluation", endpoint, fold, name) + ((model_id,) if name == "model" else ())
        noisy = release_table(exact, noise_multiplier, randomness.numpy(*draw))
        released.append((name, float(noise_multiplier)))
        table = CountTable(noisy, np.arange(len(cuts) + 1, dtype=float), times, float(noise_multiplier))
        rng = randomness.numpy("evaluation-interval", endpoint, fold, name)  # post-processing of the released table
        value = table_metric(table, binary=binary, B=settings.n_bootstrap, confidence=settings.confidence, rng=rng)
        # n and events: sums of the noisy cells as released (unbiased; clipping each cell at 0 is not)
        metrics.append({**keys, **labels, "metric": value.metric, "value": value.value, "ci_low": value.ci_low,
                        "ci_high": value.ci_high, "se": value.se, "n": max(0, int(round(noisy.sum()))),
                        "events": max(0, int(round(noisy[..., 1].sum()))), "note": value.note, "weight": value.weight})  # fmt: skip
        if name != "model":
            continue
        model_keys = {**keys, **labels, "trained_on": run["trained_on"]}
        predictions = pd.DataFrame({**model_keys, "patient_id": matrix.patient_id, "predicted_risk_horizon": risk})
        calibration += [{**model_keys, **row} for row in calibration_rows(
            table, cuts, settings.calibration_time, binary=binary, B=settings.n_bootstrap, confidence=settings.confidence,
            min_cell_count=settings.min_cell_count, rng=rng)]  # fmt: skip
        if not binary:
            life_tables = table_life_table(table, cuts, list(site.risk_thresholds), site.km_step, stats["horizon"], settings.min_cell_count).assign(**model_keys)
    calibration = pd.DataFrame(calibration, columns=CALIBRATION_COLUMNS).round(
        {c: DIGITS for c in ("predicted_risk", "observed_risk", "observed_low", "observed_high")}
    )
    km = life_tables.reindex(columns=["disease", "endpoint", "design", "strategy", "epsilon", "seed", "trained_on", "test_site"] + LIFE_TABLE_COLUMNS)
    table = pd.DataFrame(metrics)[METRIC_COLUMNS + ["weight"]].round({c: DIGITS for c in ("value", "ci_low", "ci_high", "se")})
    return SiteEvaluation(table, calibration, km, predictions), released
