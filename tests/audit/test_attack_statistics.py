"""Membership-inference statistics and empirical epsilon bounds (fedheme.audit)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binomtest
from sklearn.metrics import roc_auc_score

from fedheme.audit.attacks import (
    attack_metrics,
    auroc_replicates,
    lira_scores,
    loss_logit,
    loss_threshold_scores,
    roc_points,
    tpr_at_fpr_replicates,
    weighted_quantile,
)
from fedheme.audit.bounds import canary_bound, clopper_pearson_upper, epsilon_lower_bound

DELTA = 1e-5


def softplus(phi: np.ndarray) -> np.ndarray:
    """Inverse of :func:`loss_logit`: the loss whose phi is ``phi``."""
    return np.logaddexp(0.0, phi)


def simulate(rng, n=800, shadows=16, difficulty_sd=0.0, gap=1.5, noise=0.5, target_depends=True):
    """Losses of n examples under a target and S shadow models on the phi scale: members sit
    ``gap`` below non-members, around a per-example difficulty shared by all models."""
    difficulty = rng.normal(0.0, difficulty_sd, n) if difficulty_sd else np.zeros(n)
    member = rng.random(n) < 0.5
    shadow_in = rng.random((shadows, n)) < 0.5
    shadow_phi = difficulty - gap * shadow_in + rng.normal(0.0, noise, (shadows, n))
    target_phi = difficulty - gap * (member if target_depends else rng.random(n) < 0.5) + rng.normal(0.0, noise, n)
    return softplus(target_phi), softplus(shadow_phi), shadow_in, member


# -- attack metrics ------------------------------------------------------------------------


def test_auroc_estimate_is_sklearns_and_replicates_are_repeated_rows():
    rng = np.random.default_rng(0)
    n = 300
    member = rng.random(n) < 0.4
    scores = rng.normal(size=n) + 0.8 * member
    scores[:20] = np.round(scores[:20])  # a few ties
    W = rng.multinomial(n, np.full(n, 1.0 / n), size=5).astype(float)
    metrics = attack_metrics(scores, member, W, confidence=0.95)
    assert metrics["auroc"][0] == pytest.approx(roc_auc_score(member, scores), abs=1e-12)
    replicates = auroc_replicates(W, scores, member)
    for b in range(len(W)):
        counts = W[b].astype(int)
        assert replicates[b] == pytest.approx(roc_auc_score(np.repeat(member, counts), np.repeat(scores, counts)), abs=1e-12)


def test_tpr_replicates_are_repeated_rows_and_quantile_is_numpys():
    rng = np.random.default_rng(1)
    n = 400
    member = rng.random(n) < 0.5
    scores = np.round(rng.normal(size=n) + member, 1)  # many ties
    W = rng.multinomial(n, np.full(n, 1.0 / n), size=4).astype(float)
    for fpr in (0.01, 0.1, 0.3):
        replicates = tpr_at_fpr_replicates(W, scores, member, fpr)
        for b in range(len(W)):
            counts = W[b].astype(int)
            repeated = roc_points(np.repeat(scores, counts), np.repeat(member, counts), [fpr])[0]
            assert replicates[b] == pytest.approx(repeated, abs=1e-12)
            non = np.repeat(scores[~member], counts[~member])
            assert weighted_quantile(W[b:b + 1, ~member], scores[~member], 1 - fpr)[0] == pytest.approx(np.quantile(non, 1 - fpr))


def test_tpr_at_fpr_by_hand():
    # non-members 0..9: the 0.9 quantile is 8.1 (linear); members above it: 9 and 10, tied: 8.1 (one half)
    non_members = np.arange(10.0)
    members = np.array([8.1, 9.0, 5.0, 10.0])
    scores = np.concatenate([non_members, members])
    member = np.r_[np.zeros(10, bool), np.ones(4, bool)]
    assert roc_points(scores, member, [0.1])[0] == pytest.approx(2.5 / 4)
    # at FPR 0.5 the threshold is 4.5: all four members are above it
    assert roc_points(scores, member, [0.1, 0.5]) == pytest.approx([2.5 / 4, 1.0])


def test_attack_metrics_intervals_and_undefined_replicates():
    rng = np.random.default_rng(2)
    n = 200
    member = np.arange(n) < 100
    scores = rng.normal(size=n) + member
    W = rng.multinomial(n, np.full(n, 1.0 / n), size=100).astype(float)
    metrics = attack_metrics(scores, member, W, confidence=0.9)
    assert set(metrics) == {"auroc", "tpr_at_1pct_fpr", "tpr_at_0.1pct_fpr"}
    for estimate, low, high in metrics.values():
        assert low <= high and 0 <= low and high <= 1 and np.isfinite(estimate)
    assert metrics["auroc"][1] < metrics["auroc"][0] < metrics["auroc"][2]
    assert metrics["tpr_at_1pct_fpr"][0] == pytest.approx(roc_points(scores, member, [0.01])[0])
    # a single replicate: the interval collapses onto its value
    one = attack_metrics(scores, member, W[:1], confidence=0.95)
    assert one["auroc"][1] == one["auroc"][2] == pytest.approx(auroc_replicates(W[:1], scores, member)[0])
    # replicates without non-members are NaN; 20 of 100 (fewer than 90% finite) leave no interval
    W[:20, ~member] = 0.0
    assert np.isnan(auroc_replicates(W[:20], scores, member)).all()
    assert np.isnan(tpr_at_fpr_replicates(W[:20], scores, member, 0.01)).all()
    estimate, low, high = attack_metrics(scores, member, W, confidence=0.9)["auroc"]
    assert np.isfinite(estimate) and math.isnan(low) and math.isnan(high)
    # 5 of 100 undefined: they are ignored
    W[5:20] = rng.multinomial(n, np.full(n, 1.0 / n), size=15)
    assert np.isfinite(attack_metrics(scores, member, W, confidence=0.9)["auroc"][1])


# -- LiRA ----------------------------------------------------------------------------------


def test_loss_logit_is_minus_the_logit_and_finite():
    p = np.array([0.01, 0.5, 0.9, 0.999])
    assert loss_logit(-np.log(p)) == pytest.approx(-np.log(p / (1 - p)))
    assert np.isfinite(loss_logit(np.array([0.0, 1e-300, 800.0, 1e6]))).all()
    assert loss_threshold_scores(np.array([0.1, 2.0])) == pytest.approx([-0.1, -2.0])


def test_lira_separates_members():
    target, shadow, shadow_in, member = simulate(np.random.default_rng(3))
    for fixed in (True, False):
        scores = lira_scores(target, shadow, shadow_in, fixed_variance=fixed)
        assert scores.shape == member.shape and np.isfinite(scores).all()
        assert roc_auc_score(member, scores) > 0.9


def test_lira_is_chance_when_the_target_ignores_membership():
    target, shadow, shadow_in, member = simulate(np.random.default_rng(4), n=2000, target_depends=False)
    assert roc_auc_score(member, lira_scores(target, shadow, shadow_in)) == pytest.approx(0.5, abs=0.1)


def test_lira_beats_loss_threshold_on_heterogeneous_examples():
    target, shadow, shadow_in, member = simulate(np.random.default_rng(5), difficulty_sd=3.0, gap=1.0)
    lira = roc_auc_score(member, lira_scores(target, shadow, shadow_in))
    loss = roc_auc_score(member, loss_threshold_scores(target))
    assert lira > 0.8 and lira > loss + 0.15
    low_fpr = [0.01]
    assert roc_points(lira_scores(target, shadow, shadow_in), member, low_fpr)[0] > roc_points(loss_threshold_scores(target), member, low_fpr)[0]


def test_lira_falls_back_for_examples_without_in_or_out_shadows():
    target, shadow, shadow_in, member = simulate(np.random.default_rng(6), n=200, shadows=4)
    shadow_in[:, 0] = False
    shadow_in[:, 1] = True
    shadow[:, 2] = shadow[0, 2]  # constant losses: zero variance of that example
    for fixed in (True, False):
        assert np.isfinite(lira_scores(target, shadow, shadow_in, fixed_variance=fixed)).all()
    with pytest.raises(ValueError):
        lira_scores(target, shadow, np.zeros_like(shadow_in))
    with pytest.raises(ValueError):
        lira_scores(target[:-1], shadow, shadow_in)


# -- empirical epsilon ---------------------------------------------------------------------


def test_clopper_pearson_upper():
    assert clopper_pearson_upper(0, 50, 0.05) == pytest.approx(1 - 0.05 ** (1 / 50), rel=1e-10)
    for k, n, alpha in ((3, 40, 0.05), (17, 60, 0.025), (59, 60, 0.1)):
        # the two-sided exact interval at 1 - 2 alpha leaves alpha in each tail
        expected = binomtest(k, n).proportion_ci(confidence_level=1 - 2 * alpha, method="exact").high
        assert clopper_pearson_upper(k, n, alpha) == pytest.approx(expected, rel=1e-10)
    assert clopper_pearson_upper(0, 0, 0.05) == 1.0
    assert clopper_pearson_upper(5, 5, 0.05) == 1.0


def test_epsilon_lower_bound():
    u = clopper_pearson_upper(0, 50, 0.025)
    perfect = epsilon_lower_bound(false_positives=0, negatives=50, false_negatives=0, positives=50, delta=DELTA, confidence=0.95)
    assert perfect == pytest.approx(math.log((1 - DELTA - u) / u)) and perfect > 2.5
    chance = epsilon_lower_bound(false_positives=25, negatives=50, false_negatives=25, positives=50, delta=DELTA, confidence=0.95)
    assert chance == 0.0
    # asymmetric: no false positives, many false negatives still bound epsilon through the first term
    one_sided = epsilon_lower_bound(false_positives=0, negatives=500, false_negatives=250, positives=500, delta=DELTA, confidence=0.95)
    fpr_hi, fnr_hi = clopper_pearson_upper(0, 500, 0.025), clopper_pearson_upper(250, 500, 0.025)
    assert one_sided == pytest.approx(math.log((1 - DELTA - fnr_hi) / fpr_hi)) and one_sided > 0
    # more confidence, a smaller bound
    assert epsilon_lower_bound(false_positives=0, negatives=50, false_negatives=0, positives=50, delta=DELTA, confidence=0.99) < perfect


def test_canary_bound_perfect_separation():
    rng = np.random.default_rng(7)
    out = canary_bound(rng.normal(10.0, 1.0, 100), rng.normal(0.0, 1.0, 100), delta=DELTA, confidence=0.95, rng=rng)
    assert out["epsilon_lower_bound"] > 2
    assert (out["negatives"], out["positives"], out["false_positives"], out["false_negatives"]) == (50, 50, 0, 0)
    assert out["confidence"] == 0.95 and 0.0 < out["threshold"] < 10.0
    recomputed = epsilon_lower_bound(false_positives=0, negatives=50, false_negatives=0, positives=50, delta=DELTA, confidence=0.95)
    assert out["epsilon_lower_bound"] == pytest.approx(recomputed)


def test_canary_bound_identical_distributions():
    rng = np.random.default_rng(8)
    bounds = np.array([
        canary_bound(rng.normal(size=100), rng.normal(size=100), delta=DELTA, confidence=0.95, rng=rng)["epsilon_lower_bound"] for _ in range(20)
    ])
    assert (bounds < 0.5).sum() >= 18 and bounds.max() <= 1.5 and (bounds >= 0).all()


def test_the_canary_bound_covers_a_mechanism_of_known_epsilon():
    """Randomized response at epsilon = 1 (say 'with' with probability e / (1 + e) when the
    canary is in, 1 / (1 + e) when not): over 300 audits of 100 runs each way, the bound
    exceeds the true epsilon in at most 5% (the confidence is 95%), and is 0 for a mechanism
    that ignores the canary in at least 90%."""
    rng = np.random.default_rng(11)
    p_in = math.e / (1 + math.e)
    above, zero = 0, 0
    for _ in range(300):
        with_ = (rng.random(100) < p_in).astype(float)
        without = (rng.random(100) < 1 - p_in).astype(float)
        above += canary_bound(with_, without, delta=1e-5, confidence=0.95, rng=rng)["epsilon_lower_bound"] > 1.0
        same = rng.random((2, 100))
        zero += canary_bound(same[0], same[1], delta=1e-5, confidence=0.95, rng=rng)["epsilon_lower_bound"] == 0.0
    assert above <= 15 and zero >= 270
