"""Membership-inference statistics: attack scores and their ROC metrics with bootstrap intervals.

Two attacks score how likely each example was in a model's training set (higher = more
likely a member):

* the loss-threshold attack of Yeom et al. (:func:`loss_threshold_scores`), and
* the online likelihood-ratio attack (LiRA) of Carlini et al. (:func:`lira_scores`), which
  calibrates each example's loss against shadow models trained with and without it.

:func:`attack_metrics` reports the AUROC and the true-positive rate at a low false-positive
rate (the figure of merit Carlini et al. recommend), with percentile intervals over bootstrap
replicates given as counts ``W`` (B, n), all replicates at once, as in
:mod:`fedheme.evaluation.bootstrap`.

Shapes: ``n`` examples, ``S`` shadow models, ``B`` bootstrap replicates; losses are per-example
negative log-likelihoods (nats).

References
----------
.. [1] Yeom, S., Giacomelli, I., Fredrikson, M., Jha, S. "Privacy Risk in Machine Learning:
       Analyzing the Connection to Overfitting". IEEE CSF 2018.
.. [2] Carlini, N., Chien, S., Nasr, M., Song, S., Terzis, A., Tramer, F. "Membership Inference
       Attacks From First Principles". IEEE S&P 2022.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import norm

from fedheme.evaluation.metrics import percentile_interval, weighted_auroc

#: The false-positive rates :func:`attack_metrics` reports the true-positive rate at.
LOW_FPR = {"tpr_at_1pct_fpr": 0.01, "tpr_at_0.1pct_fpr": 0.001}
#: Smallest loss used by the logit transform, so that a zero loss stays finite.
MIN_LOSS = 1e-12
#: Floor of a fitted variance (phi scale), so that a shadow set with constant losses stays finite.
MIN_VARIANCE = 1e-8


def loss_threshold_scores(losses: np.ndarray) -> np.ndarray:
    """Membership score of the loss-threshold attack [1]_: minus the loss.

    Parameters
    ----------
    losses : ndarray, shape (n,)
        Per-example loss under the target model (nats).

    Returns
    -------
    ndarray, shape (n,)
        ``-losses``: a lower loss is more likely a training member.

    References
    ----------
    .. [1] Yeom et al., "Privacy Risk in Machine Learning: Analyzing the Connection to
           Overfitting", IEEE CSF 2018.
    """
    return -np.asarray(losses, dtype=float)


def loss_logit(losses: np.ndarray) -> np.ndarray:
    """The near-Gaussian transform of LiRA [2]_: ``phi = log(exp(loss) - 1)``, any shape.

    For a negative log-likelihood, ``p = exp(-loss)`` and ``phi = -log(p / (1 - p))``, minus the
    logit of the probability of the true label. Losses are clipped below at :data:`MIN_LOSS` and
    the transform is written ``loss + log(1 - exp(-loss))`` so that it stays finite for large
    losses too.

    References
    ----------
    .. [2] Carlini et al., "Membership Inference Attacks From First Principles", IEEE S&P 2022.
    """
    loss = np.maximum(np.asarray(losses, dtype=float), MIN_LOSS)
    return loss + np.log(-np.expm1(-loss))


def _gaussian_fit(phi: np.ndarray, chosen: np.ndarray, fixed_variance: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per-example mean and variance of ``phi`` (S, n) over the shadows where ``chosen`` (S, n).

    An example with no chosen shadow gets the population mean and variance of all chosen values.
    The variance is the within-example variance pooled over examples when ``fixed_variance``
    (else per example; an example with fewer than two chosen shadows then uses the pooled one).

    Returns
    -------
    (mean, variance) : ndarrays, shapes (n,)
    """
    count = chosen.sum(axis=0)
    if count.sum() == 0:
        raise ValueError("no shadow value of this kind (IN or OUT) at all: cannot fit LiRA's Gaussians")
    values = np.where(chosen, phi, 0.0)
    mean = np.divide(values.sum(axis=0), count, out=np.zeros(phi.shape[1]), where=count > 0)
    squares = (np.where(chosen, phi - mean, 0.0) ** 2).sum(axis=0)
    dof = np.maximum(count - 1, 0)
    pooled = squares.sum() / dof.sum() if dof.sum() > 0 else float(np.var(phi[chosen]))
    variance = np.full(phi.shape[1], pooled)
    if not fixed_variance:
        np.divide(squares, dof, out=variance, where=dof > 0)
    missing = count == 0
    mean[missing] = phi[chosen].mean()
    variance[missing] = np.var(phi[chosen])
    return mean, np.maximum(variance, MIN_VARIANCE)


def lira_scores(
    target_losses: np.ndarray, shadow_losses: np.ndarray, shadow_in: np.ndarray, *, fixed_variance: bool = True
) -> np.ndarray:
    """Online likelihood-ratio attack (LiRA) of Carlini et al. [2]_.

    Each loss is mapped by :func:`loss_logit` to ``phi`` (near-Gaussian over training runs). Per
    example, Gaussians are fitted to its ``phi`` under the shadows trained with it (IN) and
    without it (OUT); the score is the log-likelihood ratio of the target model's ``phi``::

        score = log N(phi_target; mu_in, s_in^2) - log N(phi_target; mu_out, s_out^2)

    Means are per example. Variances are the within-example variances pooled over all examples
    when ``fixed_variance`` (the paper's recommendation with few shadow models), else per example
    (an example with fewer than two IN, or OUT, shadows uses the pooled one). An example without
    any IN (or OUT) shadow falls back to the mean and variance of all IN (or OUT) values.

    Parameters
    ----------
    target_losses : ndarray, shape (n,)
        Per-example loss under the target model (nats).
    shadow_losses : ndarray, shape (S, n)
        Loss of each example under each of ``S`` shadow models.
    shadow_in : ndarray of bool, shape (S, n)
        Whether the example was in that shadow model's training set.
    fixed_variance : bool
        Pool the variances over examples (True) or fit them per example.

    Returns
    -------
    ndarray, shape (n,)
        Finite scores; higher = more likely a member of the target's training set.

    References
    ----------
    .. [2] Carlini, N., Chien, S., Nasr, M., Song, S., Terzis, A., Tramer, F. "Membership
           Inference Attacks From First Principles". IEEE S&P 2022, Section IV (online attack,
           fixed variance).
    """
    target = loss_logit(target_losses)
    shadow = loss_logit(shadow_losses)
    chosen = np.asarray(shadow_in, dtype=bool)
    if shadow.ndim != 2 or shadow.shape != chosen.shape or shadow.shape[1] != target.shape[0]:
        raise ValueError(f"shapes: target {target.shape}, shadow losses {shadow.shape}, shadow_in {chosen.shape}; need (n,), (S, n), (S, n)")
    mu_in, var_in = _gaussian_fit(shadow, chosen, fixed_variance)
    mu_out, var_out = _gaussian_fit(shadow, ~chosen, fixed_variance)
    return norm.logpdf(target, mu_in, np.sqrt(var_in)) - norm.logpdf(target, mu_out, np.sqrt(var_out))


def weighted_quantile(W: np.ndarray, values: np.ndarray, q: float) -> np.ndarray:
    """The ``q`` quantile of ``values`` (m,) per replicate of counts ``W`` (B, m); shape (B,).

    With integer counts it is ``np.quantile`` (linear interpolation) of the values repeated by
    their counts, so unit weights give ``np.quantile(values, q)``. NaN for a replicate with
    total weight below 1.
    """
    if len(values) == 0:
        return np.full(W.shape[0], np.nan)
    order = np.argsort(values, kind="stable")
    ordered, cum = values[order], np.cumsum(W[:, order], axis=1)
    total = cum[:, -1]
    position = np.maximum(total - 1, 0) * q
    low = np.floor(position)
    high = np.minimum(low + 1, np.maximum(total - 1, 0))

    def at(rank):  # value of the element of that 0-based rank in the repeated sorted array
        index = (cum <= rank[:, None]).sum(axis=1)
        return ordered[np.minimum(index, len(values) - 1)]

    out = at(low) + (position - low) * (at(high) - at(low))
    return np.where(total >= 1, out, np.nan)


def tpr_at_fpr_replicates(W: np.ndarray, scores: np.ndarray, member: np.ndarray, fpr: float) -> np.ndarray:
    """True-positive rate at false-positive rate ``fpr`` per replicate; shape (B,).

    The threshold is the weighted ``1 - fpr`` quantile of the non-members' scores
    (:func:`weighted_quantile`); the TPR is the weighted share of members scoring strictly
    above it, a member tied with it counting one half. NaN where a class has zero weight.

    Parameters
    ----------
    W : ndarray, shape (B, n)
        Bootstrap counts (row b: how often each example is drawn in replicate b).
    scores : ndarray, shape (n,)
        Membership scores, higher = more likely a member.
    member : ndarray of bool, shape (n,)
        Whether each example is a member.
    """
    member = np.asarray(member, dtype=bool)
    threshold = weighted_quantile(W[:, ~member], scores[~member], 1.0 - fpr)
    s, w = scores[member][None, :], W[:, member]
    hits = (w * ((s > threshold[:, None]) + 0.5 * (s == threshold[:, None]))).sum(axis=1)
    total = w.sum(axis=1)
    return np.divide(hits, total, out=np.full(len(total), np.nan), where=(total > 0) & np.isfinite(threshold))


def auroc_replicates(W: np.ndarray, scores: np.ndarray, member: np.ndarray) -> np.ndarray:
    """AUROC per replicate of counts ``W`` (B, n): the weighted Mann-Whitney statistic, ties one
    half (:func:`fedheme.evaluation.metrics.weighted_auroc`); shape (B,), NaN where a class has
    zero weight."""
    return weighted_auroc(W, np.asarray(member, dtype=bool), np.asarray(scores, dtype=float))


def roc_points(scores: np.ndarray, member: np.ndarray, fpr_grid: np.ndarray) -> np.ndarray:
    """True-positive rate at each false-positive rate of ``fpr_grid`` (G,); shape (G,).

    The threshold at ``f`` is the ``1 - f`` quantile (``np.quantile``, linear) of the
    non-members' scores (n,); the TPR is the share of members (``member`` (n,) bool) scoring
    strictly above it, ties counted one half, as in Carlini et al. [2]_ (TPR at low FPR).
    """
    scores = np.asarray(scores, dtype=float)
    unit = np.ones((1, len(scores)))
    return np.array([tpr_at_fpr_replicates(unit, scores, member, float(f))[0] for f in np.atleast_1d(fpr_grid)])


def _metric_replicates(W: np.ndarray, scores: np.ndarray, member: np.ndarray) -> dict[str, np.ndarray]:
    """Every metric of :func:`attack_metrics` per replicate of ``W`` (B, n); each (B,)."""
    out = {"auroc": auroc_replicates(W, scores, member)}
    out.update({name: tpr_at_fpr_replicates(W, scores, member, fpr) for name, fpr in LOW_FPR.items()})
    return out


def attack_metrics(
    scores: np.ndarray, member: np.ndarray, weights: np.ndarray, *, confidence: float
) -> dict[str, tuple[float, float, float]]:
    """AUROC and TPR at 1% and 0.1% FPR of a membership-inference attack, with bootstrap intervals.

    Parameters
    ----------
    scores : ndarray, shape (n,)
        Membership scores, higher = more likely a member.
    member : ndarray of bool, shape (n,)
        Ground truth: whether each example was in the target's training set.
    weights : ndarray, shape (B, n)
        Bootstrap counts: row b gives how often each example is drawn in replicate b.
    confidence : float
        Level of the percentile intervals (e.g. 0.95).

    Returns
    -------
    dict
        ``{'auroc', 'tpr_at_1pct_fpr', 'tpr_at_0.1pct_fpr'} -> (estimate, ci_low, ci_high)``.
        The estimate uses unit weights; the interval is the percentile interval of the ``B``
        replicate values (:func:`fedheme.evaluation.metrics.percentile_interval`): replicates
        where a class has zero weight are NaN and ignored, and the interval is NaN when fewer
        than 90% of the replicates are finite (or the estimate is undefined).

    References
    ----------
    .. [2] Carlini et al., "Membership Inference Attacks From First Principles", IEEE S&P 2022
           (reporting TPR at low FPR rather than accuracy or AUROC alone).
    """
    scores, member = np.asarray(scores, dtype=float), np.asarray(member, dtype=bool)
    W = np.atleast_2d(np.asarray(weights, dtype=float))
    if scores.shape != member.shape or W.shape[1] != len(scores):
        raise ValueError(f"shapes: scores {scores.shape}, member {member.shape}, weights {W.shape}; need (n,), (n,), (B, n)")
    point = _metric_replicates(np.ones((1, len(scores))), scores, member)
    replicates = _metric_replicates(W, scores, member)
    out = {}
    for name, values in replicates.items():
        estimate = float(point[name][0])
        low, high = percentile_interval(values, confidence) if math.isfinite(estimate) else (math.nan, math.nan)
        out[name] = (estimate, low, high)
    return out
