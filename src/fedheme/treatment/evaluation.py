"""A test site evaluates a fold's transplant models on its own patients, inside the site.

For every run (strategy, epsilon, seed; the local-only models of the training sites
averaged, as for prognosis) the site computes, with transplant as it happened:

* ``c_td`` (weight: comparable pairs) and ``brier_pp`` (weight: person-periods) of
  :mod:`fedheme.treatment.validation`, beside ``c_td`` of the IPSS-M score (time-fixed) on
  the same patients;
* the RMST (years) each patient would have under every policy of
  :mod:`fedheme.treatment.decision`, and per IPSS-M category the mean RMST under "never"
  and under each transplant policy and their difference, the gain.

It releases per quantity the estimate, the percentile-bootstrap interval (patients
resampled within the site with weights from its secret key), the bootstrap standard error
and the pooling weight, rounded, in the layout of the prognostic metrics
(:data:`fedheme.evaluation.tables.METRIC_COLUMNS`; the category and the policy are in
``endpoint`` and ``metric``). A category with fewer than ``min_cell_count`` patients is
released as NA, and so is the row of all patients then (it would give the category back by
subtraction); a category's deaths are withheld when they, or its survivors, are a small
cell. Pooling over sites is :mod:`fedheme.treatment.pooling`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from fedheme.evaluation.bootstrap import multinomial_weights
from fedheme.evaluation.metrics import percentile_interval
from fedheme.evaluation.tables import DIGITS
from fedheme.federated.design import feature_matrix
from fedheme.models.bundle import bundle_model
from fedheme.models.timebins import discretise
from fedheme.privacy.randomness import SiteRandomness
from fedheme.privacy.suppression import is_small
from fedheme.scores.mds import IPSSM_CATEGORIES
from fedheme.treatment.coding import TransplantCoding
from fedheme.treatment.cohort import transplant_cohort
from fedheme.treatment.decision import NEVER, policy_rmst
from fedheme.treatment.validation import person_period_brier, time_dependent_c

#: Columns a site releases (the prognostic metrics' layout and the pooling weight).
RELEASE_COLUMNS = ["disease", "endpoint", "design", "strategy", "epsilon", "seed", "test_site", "metric", "value",
                   "ci_low", "ci_high", "se", "n", "events", "note", "weight"]  # fmt: skip
#: ``endpoint`` of the validation rows; RMST rows use ``hsct:<IPSS-M category>`` (or ``hsct:all``).
ENDPOINT = "hsct"


def coding_of(bundle: dict) -> TransplantCoding:
    """The coding a transplant bundle was trained with."""
    t = bundle["treatment"]
    return TransplantCoding(tuple(t["edges"]), float(t["horizon"]), float(t["early_years"]), tuple(t["modifiers"]))


def run_groups(bundle: dict) -> dict[tuple[str, str, str], list[dict]]:
    """(strategy, epsilon, seed) -> its runs (several for the local-only models); the
    time-varying Cox reference (kind ``cox_tv``: coefficients only) is not among them."""
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for run in (r for r in bundle["runs"] if r.get("kind") != "cox_tv"):
        groups.setdefault((run["strategy"], str(run["epsilon"]), str(run["seed"])), []).append(run)
    return groups


def _row(base: dict, metric: str, point: float, replicates: np.ndarray, weight: float, n: int | None, events: int | None,
         confidence: float, note: str = "") -> dict:  # fmt: skip
    """One released row (``n`` or ``events`` None: withheld as a small cell)."""
    finite = replicates[np.isfinite(replicates)]
    se = float(np.std(finite, ddof=1)) if math.isfinite(point) and len(finite) >= max(2, 0.9 * len(replicates)) else math.nan
    low, high = percentile_interval(replicates, confidence) if math.isfinite(point) else (math.nan, math.nan)
    values = {"value": point, "ci_low": low, "ci_high": high, "se": se}
    return base | {k: round(v, DIGITS) if math.isfinite(v) else math.nan for k, v in values.items()} | {
        "metric": metric, "n": n, "events": events, "note": note, "weight": weight}  # fmt: skip


def evaluate_transplant_site(bundle: dict, patients: pd.DataFrame, scores: pd.DataFrame, *, disease: str, site_id: str, settings,
                             randomness: SiteRandomness, taus: list[float], delay_years: float | None, n_bootstrap: int,
                             confidence: float, min_cell_count: int) -> tuple[pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """Validation and RMST rows of one test site for one fold's transplant bundle.

    Args:
        settings: the disease's :class:`fedheme.federated.config.DesignSettings`.
        scores: the site's clinical scores (``patient_id``, ``ipssm_score``, ``ipssm_category``).

    Returns:
        (validation, rmst), both in :data:`RELEASE_COLUMNS`.
    """
    coding = coding_of(bundle)
    cohort = transplant_cohort(patients, coding)
    rows = cohort.rows
    n = len(rows)
    by_id = scores.set_index("patient_id")
    category = by_id["ipssm_category"].reindex(rows["patient_id"]).to_numpy()
    ipssm_score = by_id["ipssm_score"].reindex(rows["patient_id"]).to_numpy(dtype=float)
    time, status = rows["os_years"].to_numpy(dtype=float), rows["os_status"].to_numpy(dtype=float)
    bin_index, event = discretise(time, status, np.asarray(coding.edges), coding.horizon)
    observed = torch.from_numpy(coding.code(cohort.transplant_years, cohort.modifiers))
    W = np.vstack([np.ones(n), multinomial_weights(n, n_bootstrap, randomness.numpy("hsct-bootstrap"))])
    events = int(event.sum())
    base = {"disease": disease, "design": "loso", "test_site": site_id}
    validation, rmst_rows = [], []
    sizes = {name: int((category == name).sum()) for name in IPSSM_CATEGORIES}
    hidden_note = ("not released: a category is hidden as a small cell, and this row would give it back"
                   if any(is_small(v, min_cell_count) for v in sizes.values()) else "")  # fmt: skip
    # the clinical reference on the same patients: IPSS-M, one risk for every bin
    c, pairs = time_dependent_c(W, bin_index, event, np.repeat(ipssm_score[:, None], coding.n_bins, axis=1))
    validation.append(_row(base | {"endpoint": ENDPOINT, "strategy": "ipssm", "epsilon": None, "seed": None}, "c_td", c[0], c[1:],
                           pairs[0], n, events, confidence))  # fmt: skip
    features = {mode: torch.from_numpy(feature_matrix(rows, settings, stats)) for mode, stats in bundle["stats"].items()}
    for (strategy, epsilon, seed), runs in sorted(run_groups(bundle).items()):
        key = base | {"strategy": strategy, "epsilon": epsilon, "seed": seed}
        c_runs, brier_runs, gains = [], [], []
        for run in runs:
            model = bundle_model(bundle, run)
            x = features[run["mode"]]
            with torch.no_grad():
                logits = model(x, observed).numpy().astype(float)
            c_runs.append(time_dependent_c(W, bin_index, event, logits))
            brier_runs.append(person_period_brier(W, bin_index, event, 1.0 / (1.0 + np.exp(-logits))))
            gains.append(policy_rmst(model, x.numpy(), cohort.modifiers, coding, taus=taus, delay_years=delay_years))
        c = np.mean([r[0] for r in c_runs], axis=0)
        brier = np.mean([r[0] for r in brier_runs], axis=0)
        validation.append(_row(key | {"endpoint": ENDPOINT}, "c_td", c[0], c[1:], c_runs[0][1][0], n, events, confidence))
        validation.append(_row(key | {"endpoint": ENDPOINT}, "brier_pp", brier[0], brier[1:], brier_runs[0][1][0], n, events, confidence))
        rmst = {k: np.mean([g[k] for g in gains], axis=0) for k in gains[0]}  # local-only: mean over the models
        for name in ("all",) + IPSSM_CATEGORIES:
            members = np.ones(n, bool) if name == "all" else category == name
            size, deaths = int(members.sum()), int(event[members].sum())
            where = key | {"endpoint": f"{ENDPOINT}:{name}"}
            # "all" beside its categories would give back a hidden category by subtraction
            withheld = hidden_note if name == "all" else ("no patients" if size == 0 else
                                                          "fewer patients than the minimum cell count" if is_small(size, min_cell_count) else "")  # fmt: skip
            shown_events = None if is_small(deaths, min_cell_count) or is_small(size - deaths, min_cell_count) else deaths
            for (policy, tau), values in sorted(rmst.items()):
                contrasts = {f"rmst_{tau:g}y_{policy}": values}
                if policy != NEVER:
                    contrasts[f"rmst_gain_{tau:g}y_{policy}"] = values - rmst[(NEVER, tau)]
                for metric, v in contrasts.items():
                    if withheld:
                        rmst_rows.append(_row(where, metric, math.nan, np.array([]), 0.0, None, None, confidence, withheld))
                        continue
                    Wm = W[:, members]
                    means = (Wm @ v[members]) / np.maximum(Wm.sum(axis=1), 1e-12)
                    rmst_rows.append(_row(where, metric, means[0], means[1:], float(size), size, shown_events, confidence))
    return pd.DataFrame(validation, columns=RELEASE_COLUMNS), pd.DataFrame(rmst_rows, columns=RELEASE_COLUMNS)
