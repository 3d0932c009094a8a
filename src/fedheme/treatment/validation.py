"""Validation of a transplant model at a test site, with transplant as it happened.

With a time-dependent treatment a patient's risk changes over follow-up, so the measures
are per time bin, on the person-period data (each patient at risk in bins 0..k_i):

* time-dependent concordance: in each bin ``j``, a patient with the event in ``j`` is
  compared with every patient still event-free at the end of ``j``, on the hazard each had
  in bin ``j`` (their transplant status then included); ties count one half. Summed over
  bins, this is the concordance of time-varying risk of Therneau and Atkinson (the
  ``survival`` package's ``concordance`` on counting-process data), in discrete time;
* person-period Brier score: the mean of ``(y_ij - h_ij)^2`` over the person-periods at
  risk (``y_ij`` 1 for an event in bin j), the discrete-time Brier score of Graf et al.
  (Stat Med 1999) without censoring weights, which the discrete time makes unnecessary:
  a patient censored in bin ``j`` is taken to survive it, as in the likelihood.

Every function takes bootstrap weights ``W`` of shape (B, n) (one row of ones: the
estimate) and returns one value per row, shape (B,).
"""

from __future__ import annotations

import numpy as np


def at_risk(bin_index: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """(at-risk mask, event indicator) per patient and bin, shapes (n, K), bool and float."""
    positions = np.arange(n_bins)[None, :]
    return positions <= bin_index[:, None], positions == bin_index[:, None]


def time_dependent_c(W: np.ndarray, bin_index: np.ndarray, event: np.ndarray, risk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Concordance of a per-bin risk, and the weight of comparable pairs, each shape (B,).

    Args:
        W: bootstrap weights, shape (B, n).
        bin_index, event: discretised follow-up, shape (n,).
        risk: risk per patient and bin (any increasing function of the hazard), shape (n, K).
    """
    concordant = np.zeros(W.shape[0])
    pairs = np.zeros(W.shape[0])
    for j in range(risk.shape[1]):
        cases = np.flatnonzero((bin_index == j) & (event == 1))
        controls = np.flatnonzero(bin_index > j)
        if len(cases) == 0 or len(controls) == 0:
            continue
        order = controls[np.argsort(risk[controls, j], kind="stable")]
        sorted_risk = risk[order, j]
        cumulative = np.concatenate([np.zeros((W.shape[0], 1)), np.cumsum(W[:, order], axis=1)], axis=1)
        below = np.searchsorted(sorted_risk, risk[cases, j], side="left")
        upto = np.searchsorted(sorted_risk, risk[cases, j], side="right")
        less, tied = cumulative[:, below], cumulative[:, upto] - cumulative[:, below]
        concordant += np.sum(W[:, cases] * (less + 0.5 * tied), axis=1)
        pairs += np.sum(W[:, cases], axis=1) * cumulative[:, -1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pairs > 0, concordant / np.where(pairs > 0, pairs, 1.0), np.nan), pairs


def person_period_brier(W: np.ndarray, bin_index: np.ndarray, event: np.ndarray, hazard: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean squared error of the hazard over the person-periods at risk, and their weight,
    each shape (B,).

    Args:
        hazard: predicted hazard per patient and bin, shape (n, K), in [0, 1].
    """
    mask, last = at_risk(bin_index, hazard.shape[1])
    y = last * (event[:, None] == 1)
    per_patient = np.sum(mask * (y - hazard) ** 2, axis=1)
    periods = mask.sum(axis=1).astype(float)
    weight = W @ periods
    return (W @ per_patient) / weight, weight
