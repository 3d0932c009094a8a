"""Survival metrics under bootstrap weights, all replicates at once.

A bootstrap replicate that draws patient ``i`` ``W[b, i]`` times is the same data as the
test site with each row repeated; every metric below is written as a sum over patients
(or pairs of patients) weighted by ``W``, so all ``B`` replicates cost a few matrix
products instead of ``B`` calls of scikit-survival. Each function follows the
conventions of its scikit-survival counterpart exactly (comparable pairs, ties, the
reverse Kaplan-Meier censoring estimate, its step interpolation), and
``tests/test_metrics.py`` checks that integer weights give the library's value on the
repeated rows. A replicate where the library would raise (no comparable pair, a zero
censoring probability, a time outside follow-up) is NaN.

Shapes: ``W`` is (B, n); ``time`` (years), ``event`` (bool) and ``risk`` are (n,);
``survival`` is (n, T), the predicted probability of being event-free at T times.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

TIED_TOL = 1e-8
#: Pair blocks are built ``chunk`` rows at a time so that memory stays O(n * chunk).
PAIR_BLOCK = 2_000_000


def multinomial_weights(n: int, replicates: int, rng: np.random.Generator) -> np.ndarray:
    """Counts of each of ``n`` patients in ``replicates`` resamples of size n; shape (B, n)."""
    return rng.multinomial(n, np.full(n, 1.0 / n), size=replicates).astype(float)


def _pair_sum(W: np.ndarray, left: np.ndarray, right: np.ndarray, kernel: Callable[[slice], np.ndarray]) -> np.ndarray:
    """sum_ij W_bi left_bi K_ij W_bj right_bj for every replicate b; shape (B,).

    ``kernel(rows)`` returns the block K[rows, :] of the (n, n) pair kernel.
    """
    n = W.shape[1]
    step = max(1, PAIR_BLOCK // max(n, 1))
    wl, wr = W * left, W * right
    total = np.zeros(W.shape[0])
    for start in range(0, n, step):
        rows = slice(start, min(start + step, n))
        total += np.einsum("bi,bi->b", wl[:, rows], wr @ kernel(rows).T)
    return total


def censoring_survival(W: np.ndarray, time: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reverse Kaplan-Meier estimate G(t) of the censoring distribution per replicate.

    Returns:
        (unique_times (U,), G (B, U)): G at each unique observed time, step function;
        as in scikit-survival, a patient with an event at t is at risk of censoring at t.
    """
    unique, index = np.unique(time, return_inverse=True)
    B, U = W.shape[0], len(unique)
    total = np.zeros((B, U))
    censored = np.zeros((B, U))
    np.add.at(total.T, index, W.T)
    np.add.at(censored.T, index[~event], W[:, ~event].T)
    at_risk = np.cumsum(total[:, ::-1], axis=1)[:, ::-1]
    events = total - censored
    at_risk_reverse = at_risk - events
    ratio = np.divide(censored, at_risk_reverse, out=np.zeros_like(censored), where=censored != 0)
    return unique, np.cumprod(1.0 - ratio, axis=1)


def _censoring_at(unique: np.ndarray, G: np.ndarray, t: np.ndarray) -> np.ndarray:
    """G at times ``t`` (step, right-continuous; 1 before the first time); shape (B, len(t))."""
    k = np.searchsorted(unique, t, side="right") - 1
    out = np.ones((G.shape[0], len(t)))
    inside = k >= 0
    out[:, inside] = G[:, k[inside]]
    return out


def _present_range(W: np.ndarray, time: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Smallest and largest follow-up time drawn into each replicate; shapes (B,)."""
    drawn = W > 0
    return np.where(drawn, time, np.inf).min(axis=1), np.where(drawn, time, -np.inf).max(axis=1)


def _concordance_kernels(time, event, risk):
    def comparable(rows):
        ti, ei = time[rows, None], event[rows, None]
        return ei & ((time[None, :] > ti) | ((time[None, :] == ti) & ~event[None, :]))

    def score(rows):
        diff = risk[rows, None] - risk[None, :]
        tie = np.abs(diff) <= TIED_TOL
        return comparable(rows) * (np.where(tie, 0.5, 0.0) + ((diff > 0) & ~tie))

    return comparable, score


def harrell_c(W: np.ndarray, time: np.ndarray, event: np.ndarray, risk: np.ndarray) -> np.ndarray:
    """Harrell's C per replicate (``concordance_index_censored``); shape (B,)."""
    comparable, score = _concordance_kernels(time, event, risk)
    ones = np.ones_like(W)
    num, den = _pair_sum(W, ones, ones, score), _pair_sum(W, ones, ones, comparable)
    return np.divide(num, den, out=np.full(len(num), np.nan), where=den > 0)


def comparable_pairs(W: np.ndarray, time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """Number of comparable pairs per replicate (the weight of Harrell's C when pooling)."""
    comparable, _ = _concordance_kernels(time, event, np.zeros(len(time)))
    ones = np.ones_like(W)
    return _pair_sum(W, ones, ones, comparable)


def uno_c(W: np.ndarray, time: np.ndarray, event: np.ndarray, risk: np.ndarray, tau: float) -> np.ndarray:
    """Uno's C truncated at ``tau`` per replicate (``concordance_index_ipcw``, censoring
    estimated on the same patients); shape (B,)."""
    unique, G = censoring_survival(W, time, event)
    g = _censoring_at(unique, G, time)
    counted = event & (time < tau)
    with np.errstate(divide="ignore"):
        weight = np.where(counted, 1.0 / g, 0.0) ** 2
    invalid = ((g == 0) & counted & (W > 0)).any(axis=1)
    weight[~np.isfinite(weight)] = 0.0
    comparable, score = _concordance_kernels(time, event, risk)
    ones = np.ones_like(W)
    num, den = _pair_sum(W, weight, ones, score), _pair_sum(W, weight, ones, comparable)
    out = np.divide(num, den, out=np.full(len(num), np.nan), where=den > 0)
    out[invalid] = np.nan
    return out


def cumulative_dynamic_auc(W: np.ndarray, time: np.ndarray, event: np.ndarray, risk: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Cumulative/dynamic AUC at each of ``times`` per replicate; shape (B, len(times)).

    Cases are events by t (weighted by 1/G(T_i)), controls are still event-free after t;
    ties in risk count one half (the trapezoidal ROC area of scikit-survival)."""
    unique, G = censoring_survival(W, time, event)
    g = _censoring_at(unique, G, time)
    low, high = _present_range(W, time)
    invalid = ((g == 0) & event & (W > 0)).any(axis=1)
    with np.errstate(divide="ignore"):
        ipcw = np.where(event & (g > 0), 1.0 / np.where(g > 0, g, 1.0), 0.0)

    def kernel(rows):
        diff = risk[rows, None] - risk[None, :]
        tie = np.abs(diff) <= TIED_TOL
        return np.where(tie, 0.5, 0.0) + ((diff > 0) & ~tie)

    out = np.full((W.shape[0], len(times)), np.nan)
    for k, t in enumerate(times):
        case = ipcw * ((time <= t) & event)
        control = np.broadcast_to((time > t).astype(float), W.shape)
        num = _pair_sum(W, case, control, kernel)
        den = (W * case).sum(axis=1) * (W * control).sum(axis=1)
        ok = (den > 0) & ~invalid & (t >= low) & (t < high)
        out[ok, k] = num[ok] / den[ok]
    return out


def integrated_brier_score(W: np.ndarray, time: np.ndarray, event: np.ndarray, survival: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Integrated Brier score over ``times`` per replicate (``integrated_brier_score``);
    ``survival`` is (n, len(times)); shape (B,)."""
    unique, G = censoring_survival(W, time, event)
    g_y = _censoring_at(unique, G, time)
    g_t = _censoring_at(unique, G, times)
    g_y[g_y == 0], g_t[g_t == 0] = np.inf, np.inf
    n = W.sum(axis=1)
    scores = np.empty((W.shape[0], len(times)))
    for k, t in enumerate(times):
        case = ((time <= t) & event).astype(float)
        control = (time > t).astype(float)
        s = survival[:, k]
        per_patient = s**2 * case / g_y + (1.0 - s) ** 2 * control / g_t[:, [k]]
        scores[:, k] = (W * per_patient).sum(axis=1) / n
    low, high = _present_range(W, time)
    ibs = np.trapezoid(scores, times, axis=1) / (times[-1] - times[0])
    ibs[(times.min() < low) | (times.max() >= high)] = np.nan
    return ibs


def kaplan_meier_at(W: np.ndarray, time: np.ndarray, event: np.ndarray, horizon: float) -> np.ndarray:
    """Kaplan-Meier survival at ``horizon`` per replicate (carried forward past the last
    time, as lifelines does); shape (B,). NaN where a replicate holds nobody."""
    unique, index = np.unique(time, return_inverse=True)
    B, U = W.shape[0], len(unique)
    total = np.zeros((B, U))
    events = np.zeros((B, U))
    np.add.at(total.T, index, W.T)
    np.add.at(events.T, index[event], W[:, event].T)
    at_risk = np.cumsum(total[:, ::-1], axis=1)[:, ::-1]
    factor = 1.0 - np.divide(events, at_risk, out=np.zeros_like(events), where=at_risk > 0)
    factor[:, unique > horizon] = 1.0
    out = np.cumprod(factor, axis=1)[:, -1]
    out[W.sum(axis=1) == 0] = np.nan
    return out
