"""Restricted mean survival time (RMST) from a discrete-time survival curve.

RMST(tau) = integral from 0 to tau of S(t) dt (Royston and Parmar, BMC Med Res Methodol
2013), the mean survival time up to tau: the measure by which Tentori et al. (J Clin Oncol
2024) compare transplant policies over 8 years. S is known at the ends of the bins and taken
linear in between (S(0) = 1), as :func:`fedheme.evaluation.site.survival_function` does, so
the integral is the trapezoid rule over the knots up to tau.
"""

from __future__ import annotations

import numpy as np


def rmst(survival_at_ends: np.ndarray, knots: np.ndarray, tau: float) -> np.ndarray:
    """RMST up to ``tau`` (in the unit of ``knots``: years), shape (n,).

    Args:
        survival_at_ends: S at the end of each bin, shape (n, K).
        knots: 0, the interior edges and the horizon, shape (K + 1,).
        tau: restriction time, 0 < tau <= knots[-1].
    """
    knots = np.asarray(knots, dtype=float)
    surv = np.atleast_2d(np.asarray(survival_at_ends, dtype=float))
    if surv.shape[1] != len(knots) - 1:
        raise ValueError(f"survival has {surv.shape[1]} bins but the knots define {len(knots) - 1}")
    if not 0 < tau <= knots[-1] + 1e-12:
        raise ValueError(f"tau = {tau} must lie in (0, {knots[-1]}]")
    values = np.hstack([np.ones((len(surv), 1)), surv])
    inside = knots < tau
    grid = np.concatenate([knots[inside], [tau]])
    at_tau = np.array([np.interp(tau, knots, row) for row in values])
    curve = np.hstack([values[:, inside], at_tau[:, None]])
    return np.trapezoid(curve, grid, axis=1)
