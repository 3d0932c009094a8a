"""Validation metrics agree with scikit-survival and lifelines, and intervals behave."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from lifelines.utils import concordance_index as lifelines_concordance
from sksurv.metrics import concordance_index_censored, concordance_index_ipcw, cumulative_dynamic_auc, integrated_brier_score
from sksurv.util import Surv

from fedheme.evaluation import bootstrap
from fedheme.evaluation.pooling import metrics_table, pool_sites
from fedheme.evaluation.tables import POOLED_ONLY
from fedheme.evaluation.metrics import EvaluationSettings, SiteOutcome, evaluate_risk, mean_over_models

SETTINGS = EvaluationSettings(n_bootstrap=200, uno_tau=4.0, auc_times=(1.0, 2.0, 30.0), ibs_times=(0.25, 3.0, 8), calibration_time=2.0)


def exponential_site(n: int, seed: int, rounding: float | None = None):
    """Exponential survival with hazard exp(0.8 r) / 3 and uniform censoring; the true
    event-free probability is returned as the survival function."""
    rng = np.random.default_rng(seed)
    risk = rng.normal(size=n)
    if rounding:
        risk = np.round(risk / rounding) * rounding
    rate = np.exp(0.8 * risk) / 3
    event_time = rng.exponential(1 / rate)
    censor = rng.uniform(0.5, 8, size=n)
    time = np.minimum(event_time, censor)
    if rounding:
        time = np.round(time, 1) + 0.05  # ties in time too
    event = event_time <= censor

    def survival(times):
        return np.exp(-np.outer(rate, np.asarray(times)))

    return time, event, risk, survival


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bootstrap_replicates_equal_the_libraries_on_repeated_rows(seed):
    """Weights W[b] give exactly what scikit-survival and lifelines give on the rows repeated
    W[b] times (ties in time and risk included)."""
    time, event, risk, survival = exponential_site(120, seed, rounding=0.2)
    grid = np.linspace(0.5, 3.0, 6)
    surv = survival(grid)
    rng = np.random.default_rng(seed)
    W = np.vstack([np.ones(len(time)), bootstrap.multinomial_weights(len(time), 6, rng)])
    harrell = bootstrap.harrell_c(W, time, event, risk)
    uno = bootstrap.uno_c(W, time, event, risk, 4.0)
    auc = bootstrap.cumulative_dynamic_auc(W, time, event, risk, np.array([1.0, 2.0]))
    ibs = bootstrap.integrated_brier_score(W, time, event, surv, grid)
    km = bootstrap.kaplan_meier_at(W, time, event, 2.0)
    for b in range(W.shape[0]):
        rows = np.repeat(np.arange(len(time)), W[b].astype(int))
        y = Surv.from_arrays(event[rows], time[rows])
        assert harrell[b] == pytest.approx(concordance_index_censored(event[rows], time[rows], risk[rows])[0], abs=1e-12)
        assert uno[b] == pytest.approx(concordance_index_ipcw(y, y, risk[rows], tau=4.0)[0], abs=1e-12)
        for k, t in enumerate([1.0, 2.0]):
            assert auc[b, k] == pytest.approx(cumulative_dynamic_auc(y, y, risk[rows], [t])[0][0], abs=1e-12)
        assert ibs[b] == pytest.approx(integrated_brier_score(y, y, surv[rows], grid), abs=1e-12)
        assert km[b] == pytest.approx(float(KaplanMeierFitter().fit(time[rows], event[rows]).predict(2.0)), abs=1e-12)


def test_harrell_c_known_cases_and_lifelines():
    time = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    event = np.array([True, True, False, True, True, False])
    ones = np.ones((1, 6))
    assert bootstrap.harrell_c(ones, time, event, -time)[0] == 1.0  # earlier event, higher risk
    assert bootstrap.harrell_c(ones, time, event, time)[0] == 0.0
    assert bootstrap.harrell_c(ones, time, event, np.zeros(6))[0] == 0.5
    t, e, r, _ = exponential_site(300, 5)
    # lifelines scores predicted survival times: higher means later, so it takes -risk
    assert bootstrap.harrell_c(np.ones((1, 300)), t, e, r)[0] == pytest.approx(lifelines_concordance(t, -r, e), abs=1e-12)


def site_outcome(time, event, seed=0):
    outcome = SiteOutcome(time, event)
    outcome.draw(SETTINGS, np.random.default_rng(seed))
    return outcome


def by_name(values):
    return {v.metric: v for v in values}


def test_point_estimates_are_scikit_survival_and_intervals_cover_them():
    time, event, risk, survival = exponential_site(400, 3)
    values, groups = evaluate_risk(site_outcome(time, event), risk, survival, SETTINGS)
    got = by_name(values)
    y = Surv.from_arrays(event, time)
    assert got["harrell_c"].value == concordance_index_censored(event, time, risk)[0]
    assert got["uno_c"].value == concordance_index_ipcw(y, y, risk, tau=4.0)[0]
    assert got["auc_2y"].value == cumulative_dynamic_auc(y, y, risk, [2.0])[0][0]
    assert got["ibs"].value == integrated_brier_score(y, y, survival(SETTINGS.ibs_grid), SETTINGS.ibs_grid)
    for name in ("harrell_c", "uno_c", "auc_1y", "auc_2y", "ibs", "calibration_in_the_large_2y"):
        v = got[name]
        assert v.ci_low <= v.value <= v.ci_high, name
        assert 0 < v.ci_high - v.ci_low < 0.2, name
    # the time beyond follow-up is NA with the library's reason
    assert math.isnan(got["auc_30y"].value) and "follow-up" in got["auc_30y"].note
    assert len(groups) == 10 and min(g.n for g in groups) >= SETTINGS.min_cell_count
    assert all(g.observed_low <= g.observed_risk <= g.observed_high for g in groups)


def test_the_true_survival_function_is_calibrated():
    """With 3000 patients the true model's predicted risk matches Kaplan-Meier, overall and
    in every risk decile, within sampling error; the lifelines Kaplan-Meier agrees."""
    time, event, risk, survival = exponential_site(3000, 9)
    values, groups = evaluate_risk(site_outcome(time, event), risk, survival, SETTINGS)
    got = by_name(values)["calibration_in_the_large_2y"]
    # a 95% interval misses 0 for 1 draw in 20 by design: assert the size of the error
    assert abs(got.value) < 0.03 and got.ci_high - got.ci_low < 0.05
    predicted_all = 1 - survival([2.0])[:, 0]
    observed_all = 1 - float(KaplanMeierFitter().fit(time, event).predict(2.0))
    assert got.value == pytest.approx(predicted_all.mean() - observed_all, abs=1e-12)
    assert sum(g.observed_low <= g.predicted_risk <= g.observed_high for g in groups) >= 8


def test_miscalibration_and_noise_are_detected():
    time, event, risk, survival = exponential_site(400, 4)
    outcome = site_outcome(time, event)
    good = by_name(evaluate_risk(outcome, risk, survival, SETTINGS)[0])
    doubled = by_name(evaluate_risk(outcome, risk, lambda t: survival(t) ** 2, SETTINGS)[0])
    noise = np.random.default_rng(0).normal(size=len(risk))
    random = by_name(evaluate_risk(outcome, noise, None, SETTINGS)[0])
    assert doubled["calibration_in_the_large_2y"].ci_low > 0.1  # over-predicts risk
    assert good["calibration_in_the_large_2y"].ci_low < 0 < good["calibration_in_the_large_2y"].ci_high
    assert doubled["ibs"].value > good["ibs"].value
    assert random["harrell_c"].ci_low < 0.5 < random["harrell_c"].ci_high
    assert good["harrell_c"].ci_low > 0.6
    # a score without survival probabilities: no IBS, no calibration, said so
    assert math.isnan(random["ibs"].value) and "without survival probabilities" in random["ibs"].note


def test_fewer_than_ten_events_reports_na_with_the_reason():
    time, event, risk, survival = exponential_site(60, 6)
    event = event & (np.cumsum(event) <= 9)
    values, groups = evaluate_risk(site_outcome(time, event), risk, survival, SETTINGS)
    others = [v for v in values if v.metric != "harrell_c"]
    assert all(math.isnan(v.value) for v in others) and not groups
    assert all("9 events at the test site, fewer than 10" in v.note for v in values)
    # Harrell's C is kept for pooling: its comparable pairs belong in the pooled C
    (c,) = [v for v in values if v.metric == "harrell_c"]
    assert np.isfinite(c.value) and c.weight > 0 and POOLED_ONLY in c.note


def test_a_site_with_too_few_events_enters_the_pooled_c_but_shows_na():
    """Pooled Harrell's C is the C over every site's comparable pairs, a small site's too."""
    rows = []
    for site, (n, cap) in {"big": (300, 1000), "small": (60, 9)}.items():
        time, event, risk, survival = exponential_site(n, 11 if site == "big" else 12)
        event = event & (np.cumsum(event) <= cap)
        (c,) = [v for v in evaluate_risk(site_outcome(time, event), risk, survival, SETTINGS)[0] if v.metric == "harrell_c"]
        rows.append({"disease": "d", "endpoint": "os", "design": "loso", "strategy": "m", "epsilon": "3", "seed": "1", "test_site": site,
                     "metric": "harrell_c", "value": c.value, "ci_low": c.ci_low, "ci_high": c.ci_high, "se": c.se, "n": n,
                     "events": int(event.sum()), "note": c.note, "weight": c.weight})  # fmt: skip
    table = metrics_table([pd.DataFrame(rows)], 0.95).set_index("test_site")
    assert math.isnan(table.loc["small", "value"]) and np.isfinite(table.loc["big", "value"])
    weights = np.array([r["weight"] for r in rows])
    expected = np.sum(weights * np.array([r["value"] for r in rows])) / weights.sum()
    assert abs(table.loc["pooled", "value"] - round(expected, 4)) < 1e-9 and "pooled over 2 sites" in table.loc["pooled", "note"]


def test_a_subset_leaves_patients_out_of_estimate_and_replicates():
    time, event, risk, _ = exponential_site(300, 7)
    keep = np.arange(300) % 3 != 0
    got = by_name(evaluate_risk(site_outcome(time, event), risk, None, SETTINGS, subset=keep)[0])
    assert got["harrell_c"].value == concordance_index_censored(event[keep], time[keep], risk[keep])[0]


def test_local_models_are_averaged_replicate_by_replicate():
    time, event, risk, survival = exponential_site(300, 8)
    outcome = site_outcome(time, event)
    a = evaluate_risk(outcome, risk, survival, SETTINGS)[0]
    b = evaluate_risk(outcome, risk + np.random.default_rng(1).normal(size=300), survival, SETTINGS)[0]
    mean = by_name(mean_over_models([a, b], SETTINGS))["harrell_c"]
    assert mean.value == pytest.approx((a[0].value + b[0].value) / 2)
    assert np.allclose(mean.replicates, (a[0].replicates + b[0].replicates) / 2)
    assert "mean over 2 models" in mean.note


def test_pooled_harrell_is_harrell_over_within_site_pairs():
    """Pooling site estimates by their comparable pairs gives exactly the C-index of all
    within-site pairs, and its interval comes from the sites' standard errors."""
    rows, num, den, variance = [], 0.0, 0.0, []
    for k, site in enumerate(["a", "b", "c"]):
        time, event, risk, _ = exponential_site(150 + 50 * k, 10 + k)
        v = by_name(evaluate_risk(site_outcome(time, event, k), risk, None, SETTINGS)[0])["harrell_c"]
        c, concordant, discordant, tied, _ = concordance_index_censored(event, time, risk)
        num += concordant + 0.5 * tied
        den += concordant + discordant + tied
        keys = {"disease": "mds", "endpoint": "os", "design": "loso", "strategy": "fedavg", "epsilon": "inf", "seed": "1", "metric": "harrell_c", "test_site": site}
        rows.append(keys | {"value": v.value, "ci_low": v.ci_low, "ci_high": v.ci_high, "se": v.se, "n": len(time),
                            "events": int(event.sum()), "note": "", "weight": v.weight})  # fmt: skip
        assert v.se == pytest.approx(np.std(v.replicates, ddof=1))
        variance.append((v.weight, v.se))
    rows.append(rows[0] | {"test_site": "d", "value": math.nan, "se": math.nan, "weight": 0.0, "note": "3 events"})
    pooled = pool_sites(pd.DataFrame(rows), 0.95).iloc[0]
    assert pooled["value"] == pytest.approx(num / den, abs=1e-12)
    total = sum(w for w, _ in variance)
    se = math.sqrt(sum((w / total * s) ** 2 for w, s in variance))
    assert pooled["se"] == pytest.approx(se) and pooled["ci_high"] - pooled["value"] == pytest.approx(1.959964 * se, rel=1e-5)
    assert pooled["note"] == "pooled over 3 sites; NA at d (3 events)", "each left-out site with its reason"
    assert pooled["n"] == 150 + 200 + 250


def test_life_tables_stop_below_the_minimum_at_risk_and_sum_to_kaplan_meier():
    """Without censoring the actuarial curve is the Kaplan-Meier curve at the interval
    ends; each site's table stops before an interval with fewer than 5 at risk, and the
    summed tables of two sites give the curve of their union."""
    from fedheme.evaluation.lifetable import actuarial_survival, life_table, risk_group_labels, risk_groups

    assert risk_group_labels([0.2, 0.5]) == ["<20%", "20%-50%", ">=50%"]
    assert list(risk_groups(np.array([0.1, 0.2, 0.7]), [0.2, 0.5])) == ["<20%", "20%-50%", ">=50%"]
    rng = np.random.default_rng(3)
    times = [rng.exponential(3, size=n) for n in (80, 120)]
    tables = [life_table(t, np.ones(len(t), bool), np.array(["all"] * len(t)), 0.5, 10.0, 5) for t in times]
    for t, table in zip(times, tables):
        assert (table["n_at_risk"] >= 5).all()
        assert ((t >= table["start"].max() + 0.5).sum()) < 5 or table["start"].max() == 9.5
    curve = actuarial_survival(pd.concat(tables), 5)
    union = np.concatenate(times)
    km = KaplanMeierFitter().fit(union, np.ones(len(union), bool))
    for row in curve.itertuples():
        assert row.survival == pytest.approx(float(km.predict(row.end - 1e-9)), abs=1e-12)
