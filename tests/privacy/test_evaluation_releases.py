"""What a test site releases cannot be inverted: no bootstrap replicates (least squares
over them recovered every test patient), calibration groups that keep the small-cell rule
through ties, and calibration groups and life tables of one declared model only, so no
two releases over the same patients can be differenced."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fedheme.evaluation.bootstrap import multinomial_weights
from fedheme.evaluation.metrics import EvaluationSettings, SiteOutcome, evaluate_binary, merge_small_groups
from fedheme.evaluation.tables import declared_model

SETTINGS = EvaluationSettings(n_bootstrap=200, min_events=5)


def small_site(n=40, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.05, 0.95, n)
    y = (rng.random(n) < p).astype(bool)
    return p, y


def test_least_squares_over_released_replicates_recovered_every_patient_and_now_cannot():
    """The old release: calibration-in-the-large replicates r_b = sum_i W_bi (p_i - y_i) / n
    with weights W from a public seed. With n <= B the attacker solves for every p_i - y_i,
    hence every outcome. The new release holds per metric an estimate, an interval and a
    standard error: the attacker's best linear solve recovers no more than the base rate."""
    p, y = small_site()
    n = len(p)
    public_w = multinomial_weights(n, SETTINGS.n_bootstrap, np.random.default_rng(1))  # the old, public draw
    outcome = SiteOutcome(np.zeros(n), y)
    outcome.weights = public_w
    values, _ = evaluate_binary(outcome, p, p, SETTINGS)
    old = {v.metric: v for v in values}
    replicates = old["calibration_in_the_large"].replicates
    d, *_ = np.linalg.lstsq(public_w / n, replicates, rcond=None)
    assert np.array_equal(d < 0, y), "the attack on the old release must work (it is the attack we close)"

    released = {m: (v.value, v.ci_low, v.ci_high, v.se) for m, v in old.items()}  # what the site releases now
    numbers = np.array([x for quadruple in released.values() for x in quadruple])
    assert len(numbers) == 16 < n
    # every linear statistic of (p - y) among them is the mean; the minimum-norm solution
    # of the one equation sets every patient to the mean, which says nothing about anyone
    d_guess, *_ = np.linalg.lstsq(np.ones((1, n)) / n, [released["calibration_in_the_large"][0]], rcond=None)
    accuracy = np.mean((d_guess < 0) == y)
    assert accuracy < 0.8 and accuracy <= max(y.mean(), 1 - y.mean()) + 1e-9


def test_calibration_groups_keep_the_small_cell_rule_through_ties():
    sizes = [2, 30, 1, 40, 3, 7]
    group = np.repeat(np.arange(len(sizes)), sizes)
    merged = merge_small_groups(group, 5)
    counts = np.bincount(merged)
    assert (counts >= 5).all() and counts.sum() == sum(sizes)
    assert (np.diff(merged) >= 0).all(), "groups stay in risk order"
    # quantile groups of a score with ties: every released group holds 5 patients or more
    p = np.r_[np.full(37, 0.1), np.full(2, 0.5), np.full(21, 0.9)]
    y = np.arange(60) % 3 == 0
    outcome = SiteOutcome(np.zeros(60), y)
    outcome.weights = multinomial_weights(60, 50, np.random.default_rng(0))
    _, groups = evaluate_binary(outcome, p, p, EvaluationSettings(n_bootstrap=50, min_events=5, min_cell_count=5))
    assert groups and all(g.n >= 5 for g in groups)


def test_the_declared_model_is_fixed_by_config():
    assert declared_model("fedavg", [float("inf"), 3.0, 1.0], [7, 8]) == ("fedavg", "1", "7")
    assert declared_model("fedprox", [float("inf")], [1]) == ("fedprox", "inf", "1")


def test_one_model_per_site_and_endpoint_releases_calibration_and_life_tables(small_run):
    results = small_run / "results"
    assert not list(results.rglob("*replicates*")), "no bootstrap replicate leaves a site"
    for name in ("calibration.tsv", "km_life_tables.tsv"):
        table = pd.read_csv(results / "tables" / name, sep="\t", dtype={"epsilon": str, "seed": str})
        if table.empty:
            continue
        assert set(table["design"]) == {"loso"}
        models = table.groupby(["disease", "endpoint", "test_site"])[["strategy", "epsilon", "seed"]].nunique()
        assert (models == 1).all().all(), f"{name}: two models' releases over the same patients"
    calibration = pd.read_csv(results / "tables" / "calibration.tsv", sep="\t")
    assert (calibration["n"] >= 5).all()
    metrics = pd.read_csv(results / "tables" / "metrics.tsv", sep="\t")
    assert {"value", "ci_low", "ci_high", "se"} <= set(metrics.columns)
    site_rows = metrics[metrics["test_site"] != "pooled"]
    assert (site_rows[["value", "ci_low", "ci_high", "se"]].stack().map(lambda x: round(x, 4) == x)).all()
