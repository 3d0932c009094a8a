"""Rényi-DP accounting (Opacus' ``RDPAccountant``) and noise calibration.

Every site has one accountant per run. Its history holds one entry per mechanism: each
Gaussian release of preprocessing aggregates (sample rate 1, one step) and the DP-SGD
steps of every round (Poisson sample rate q). The noise multiplier of DP-SGD is calibrated
so that all entries together meet the run's target epsilon at the public delta; the study
total of a site composes every run (:mod:`fedheme.privacy.study`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


ACCOUNTANT = "rdp"


@dataclass(frozen=True)
class Mechanism:
    """One entry of a site's privacy history (noise_multiplier = noise sd / L2 sensitivity).

    ``release`` names the shared release a mechanism made (e.g. ``training_release_all``):
    every run that uses the release lists it, and a study composes it once.
    """

    name: str
    noise_multiplier: float
    sample_rate: float
    steps: int
    release: str = ""


def epsilon_of(history: list[Mechanism], delta: float) -> float:
    """Epsilon of the composition of ``history`` at ``delta`` (RDP accountant); inf without noise."""
    if any(m.noise_multiplier <= 0 for m in history if m.steps > 0):
        return math.inf
    # imported here: the release jobs use this module and need neither opacus nor torch
    from opacus.accountants import RDPAccountant

    accountant = RDPAccountant()
    accountant.history = [(m.noise_multiplier, m.sample_rate, m.steps) for m in history if m.steps > 0]
    if not accountant.history:
        return 0.0
    return float(accountant.get_epsilon(delta=delta))


def calibrate_noise(target_epsilon: float, delta: float, sample_rate: float, steps: int, fixed: list[Mechanism]) -> float:
    """Smallest DP-SGD noise multiplier (to 0.1%) with epsilon(fixed + SGD) <= target.

    Raises:
        ValueError: the fixed mechanisms alone spend the budget.
    """
    spent = epsilon_of(fixed, delta)
    if spent >= target_epsilon:
        raise ValueError(f"preprocessing releases alone spend epsilon {spent:.3f} >= target {target_epsilon}")

    def total(sigma: float) -> float:
        return epsilon_of(fixed + [Mechanism("dp-sgd", sigma, sample_rate, steps)], delta)

    low, high = 0.1, 1.0
    while total(high) > target_epsilon:
        low, high = high, high * 2
        if high > 1e5:
            raise ValueError("the privacy budget is too small for this many steps")
    while (high - low) / high > 1e-3:
        mid = (low + high) / 2
        low, high = (mid, high) if total(mid) > target_epsilon else (low, mid)
    return high


