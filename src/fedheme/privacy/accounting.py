"""Differential privacy bookkeeping: Gaussian releases, noise calibration and the ledger.

Every site has one Rényi-DP accountant (Opacus' ``RDPAccountant``) for the whole run. Its
history holds one entry per mechanism: each Gaussian release of preprocessing aggregates
(sample rate 1, one step) and the DP-SGD steps of every round (Poisson sample rate q).
The noise multiplier of DP-SGD is calibrated so that all entries together meet the target
epsilon at the site's delta (default 1 / (10 n_site)).

The ledger (one row per site and mechanism) holds everything needed to recompute epsilon:
noise multiplier, sample rate, steps, accountant and delta.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


ACCOUNTANT = "rdp"
LEDGER_COLUMNS = ["run", "site", "mechanism", "noise_multiplier", "sample_rate", "steps", "accountant", "epsilon", "delta", "note"]


@dataclass(frozen=True)
class Mechanism:
    """One entry of a site's privacy history (noise_multiplier = noise sd / L2 sensitivity)."""

    name: str
    noise_multiplier: float
    sample_rate: float
    steps: int


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


def default_delta(n: int) -> float:
    """delta = 1 / (10 n): well below 1/n, so no single patient is likely to be exposed."""
    return 1.0 / (10 * max(n, 1))


