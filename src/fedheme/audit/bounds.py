"""Empirical lower bounds on a DP mechanism's epsilon from a distinguishing test, with Clopper-Pearson.

An (epsilon, delta)-DP training algorithm bounds every test that guesses, from the trained model,
whether a canary was in the training set: its false-positive rate FPR and false-negative rate FNR
satisfy ``FPR + exp(epsilon) FNR >= 1 - delta`` and ``FNR + exp(epsilon) FPR >= 1 - delta``. Observed
error counts, replaced by their Clopper-Pearson upper bounds, therefore give an epsilon that the
mechanism must exceed or equal, with the stated confidence: an audit's lower bound above the
accountant's epsilon reveals a bug in the trainer or the accounting.

References
----------
.. [1] Jagielski, M., Ullman, J., Oprea, A. "Auditing Differentially Private Machine Learning: How
       Private is Private SGD?". NeurIPS 2020.
.. [2] Nasr, M., Hayes, J., Steinke, T., Balle, B., Tramer, F., Jagielski, M., Carlini, N., Terzis, A.
       "Tight Auditing of Differentially Private Machine Learning". USENIX Security 2023.
.. [3] Clopper, C. J., Pearson, E. S. "The use of confidence or fiducial limits illustrated in the
       case of the binomial". Biometrika 26 (1934).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import beta

#: Added to the error counts (and twice to the totals) of the point estimate that picks the threshold.
SMOOTHING = 0.5


def clopper_pearson_upper(k: int, n: int, alpha: float) -> float:
    """One-sided upper ``1 - alpha`` Clopper-Pearson bound [3]_ of a binomial proportion.

    Parameters
    ----------
    k : int
        Successes (here: errors), ``0 <= k <= n``.
    n : int
        Trials.
    alpha : float
        One-sided error probability of the bound.

    Returns
    -------
    float
        ``beta.ppf(1 - alpha, k + 1, n - k)``; 1.0 when ``k == n`` or ``n == 0``.
    """
    if not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if k == n:
        return 1.0
    return float(beta.ppf(1.0 - alpha, k + 1, n - k))


def _epsilon_from_rates(fpr: float, fnr: float, delta: float) -> float:
    """max(log((1 - delta - fnr) / fpr), log((1 - delta - fpr) / fnr), 0), a term with a
    non-positive numerator counting as 0 (and one with a zero denominator as +inf)."""
    terms = [0.0]
    for numerator, denominator in ((1.0 - delta - fnr, fpr), (1.0 - delta - fpr, fnr)):
        if numerator > 0:
            terms.append(math.log(numerator / denominator) if denominator > 0 else math.inf)
    return max(terms)


def epsilon_lower_bound(
    *, false_positives: int, negatives: int, false_negatives: int, positives: int, delta: float, confidence: float
) -> float:
    """Lower bound on epsilon from the error counts of a distinguishing test [1]_ [2]_.

    With ``FPR_hi`` and ``FNR_hi`` the Clopper-Pearson upper bounds [3]_ of the false-positive
    and false-negative rates, each at ``alpha = (1 - confidence) / 2`` so that both hold jointly
    with probability ``confidence`` (Bonferroni)::

        eps_lb = max(log((1 - delta - FNR_hi) / FPR_hi), log((1 - delta - FPR_hi) / FNR_hi), 0)

    where a term whose numerator is not positive counts as 0.

    Parameters
    ----------
    false_positives, negatives : int
        Trials without the canary called "with", and all trials without it.
    false_negatives, positives : int
        Trials with the canary called "without", and all trials with it.
    delta : float
        The mechanism's delta.
    confidence : float
        Probability that the bound holds (e.g. 0.95).

    Returns
    -------
    float
        ``eps_lb >= 0``: with probability at least ``confidence`` the mechanism is not
        (epsilon, delta)-DP for any epsilon below it.
    """
    alpha = (1.0 - confidence) / 2.0
    fpr_hi = clopper_pearson_upper(false_positives, negatives, alpha)
    fnr_hi = clopper_pearson_upper(false_negatives, positives, alpha)
    return _epsilon_from_rates(fpr_hi, fnr_hi, delta)


def _split(scores: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random half of ``scores`` (n,) (n // 2 of them) and the rest."""
    order = rng.permutation(len(scores))
    half = len(scores) // 2
    return scores[order[:half]], scores[order[half:]]


def _errors(with_: np.ndarray, without: np.ndarray, threshold: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False positives (without > t) and false negatives (with <= t) at each threshold (K,); shapes (K,)."""
    false_positives = len(without) - np.searchsorted(np.sort(without), threshold, side="right")
    false_negatives = np.searchsorted(np.sort(with_), threshold, side="right")
    return false_positives, false_negatives


def choose_threshold(scores_with: np.ndarray, scores_without: np.ndarray, *, delta: float) -> float:
    """The threshold (call "with" when score > threshold) maximising the smoothed point estimate of epsilon.

    Candidates are the midpoints between consecutive distinct scores of both sets and one
    below (above) the smallest (largest). The point estimate uses the rates
    ``(errors + 0.5) / (total + 1)`` in place of the Clopper-Pearson bounds of
    :func:`epsilon_lower_bound`; the first of tied maximisers is taken.

    Parameters
    ----------
    scores_with : ndarray, shape (n_with,)
    scores_without : ndarray, shape (n_without,)
    """
    distinct = np.unique(np.concatenate([scores_with, scores_without]))
    candidates = np.concatenate([[distinct[0] - 1.0], (distinct[:-1] + distinct[1:]) / 2.0, [distinct[-1] + 1.0]])
    false_positives, false_negatives = _errors(scores_with, scores_without, candidates)
    fpr = (false_positives + SMOOTHING) / (len(scores_without) + 2 * SMOOTHING)
    fnr = (false_negatives + SMOOTHING) / (len(scores_with) + 2 * SMOOTHING)
    estimate = [_epsilon_from_rates(p, q, delta) for p, q in zip(fpr, fnr)]
    return float(candidates[int(np.argmax(estimate))])


def canary_bound(
    scores_with: np.ndarray, scores_without: np.ndarray, *, delta: float, confidence: float, rng: np.random.Generator
) -> dict:
    """Empirical epsilon lower bound of a canary audit [1]_ [2]_, with a held-out threshold.

    A canary's score (higher = "trained with it") is observed under models trained with it
    (positives) and without it (negatives). Choosing the threshold on the same scores that are
    counted would bias the bound upward, so each set is split at random (``rng``) into two
    halves: the threshold is chosen on the first halves (:func:`choose_threshold`, the smoothed
    point estimate of epsilon), and the errors of "score > threshold means with" are counted on
    the second halves, independent of that choice; :func:`epsilon_lower_bound` turns them into a
    bound that holds with probability ``confidence``. Half the trials go to choosing the
    threshold, so the bound is looser than with all of them counted.

    Parameters
    ----------
    scores_with : ndarray, shape (n_with,)
        The canary's score under each model trained with it.
    scores_without : ndarray, shape (n_without,)
        Its score under each model trained without it.
    delta, confidence : float
        As in :func:`epsilon_lower_bound`.
    rng : numpy.random.Generator
        Draws the split.

    Returns
    -------
    dict
        ``epsilon_lower_bound`` (float >= 0), ``threshold``, the held-out counts
        ``false_positives``, ``negatives``, ``false_negatives``, ``positives`` (ints) and
        ``confidence``.
    """
    scores_with, scores_without = np.asarray(scores_with, dtype=float), np.asarray(scores_without, dtype=float)
    if min(len(scores_with), len(scores_without)) < 2:
        raise ValueError(f"need at least two scores with and two without the canary, got {len(scores_with)} and {len(scores_without)}")
    choose_with, count_with = _split(scores_with, rng)
    choose_without, count_without = _split(scores_without, rng)
    threshold = choose_threshold(choose_with, choose_without, delta=delta)
    false_positives, false_negatives = (int(e[0]) for e in _errors(count_with, count_without, np.array([threshold])))
    counts = {"false_positives": false_positives, "negatives": len(count_without), "false_negatives": false_negatives, "positives": len(count_with)}
    return {
        "epsilon_lower_bound": epsilon_lower_bound(**counts, delta=delta, confidence=confidence),
        "threshold": threshold,
        **counts,
        "confidence": confidence,
    }
