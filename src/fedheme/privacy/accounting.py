"""Rényi-DP accounting (Opacus' ``RDPAccountant``) and noise calibration.

Every site has one accountant per run. Its history holds one entry per mechanism: each
Gaussian release of preprocessing aggregates (sample rate 1, one step) and the DP-SGD
steps of every round (Poisson sample rate q). The noise multiplier of DP-SGD is calibrated
so that all entries together meet the run's target epsilon at the public delta; the study
total of a site composes every run (:mod:`fedheme.privacy.study`).

The RDP of ``steps`` steps of one subsampled Gaussian is ``steps`` times that of one step
(Mironov et al. 2019), which is what Opacus' ``compute_rdp`` returns; fedheme keeps the
per-step vector of each (noise multiplier, sample rate) it has met, so that calibrating a
noise multiplier and totalling a ledger evaluate Opacus' series once per mechanism instead
of once per call. The result is Opacus' ``RDPAccountant.get_epsilon``, float for float
(tested).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path


ACCOUNTANT = "rdp"

_calibration_folder: Path | None = None


def use_calibration_cache(folder: str | Path | None) -> None:
    """Keep calibrated noise multipliers in ``folder`` across processes (None: in memory only).

    A calibration is a pure function of public numbers (target epsilon, delta, sample
    rate, steps and the releases' noise), so the folder holds nothing about a patient; the
    leave-one-site-out folds of a study share most of their calibrations.
    """
    global _calibration_folder
    _calibration_folder = None if folder is None else Path(folder)


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


@lru_cache(maxsize=65536)
def _rdp_per_step(noise_multiplier: float, sample_rate: float):
    """RDP of one step at each of Opacus' default orders, shape (n_orders,)."""
    # imported here: the release jobs use this module and need neither opacus nor torch
    from opacus.accountants import RDPAccountant
    from opacus.accountants.analysis.rdp import compute_rdp

    vector = compute_rdp(q=sample_rate, noise_multiplier=noise_multiplier, steps=1, orders=RDPAccountant.DEFAULT_ALPHAS)
    vector.setflags(write=False)
    return vector


def rdp_epsilon(entries: list[tuple[float, float, int]], delta: float) -> float:
    """Opacus' ``RDPAccountant.get_epsilon`` of a history of (noise multiplier, sample
    rate, steps) entries, with each entry's per-step RDP computed once per process."""
    from opacus.accountants import RDPAccountant
    from opacus.accountants.analysis.rdp import get_privacy_spent

    if not entries:
        return 0.0
    rdp = sum([_rdp_per_step(float(sigma), float(q)) * steps for sigma, q, steps in entries])
    epsilon, _ = get_privacy_spent(orders=RDPAccountant.DEFAULT_ALPHAS, rdp=rdp, delta=delta)
    return float(epsilon)


def epsilon_of(history: list[Mechanism], delta: float) -> float:
    """Epsilon of the composition of ``history`` at ``delta`` (RDP accountant); inf without noise."""
    if any(m.noise_multiplier <= 0 for m in history if m.steps > 0):
        return math.inf
    return rdp_epsilon([(m.noise_multiplier, m.sample_rate, m.steps) for m in history if m.steps > 0], delta)


def calibrate_noise(target_epsilon: float, delta: float, sample_rate: float, steps: int, fixed: list[Mechanism]) -> float:
    """Smallest DP-SGD noise multiplier (to 0.1%, in practice 0.02%) with epsilon(fixed + SGD) <= target.

    Raises:
        ValueError: the fixed mechanisms alone spend the budget.
    """
    entries = tuple((float(m.noise_multiplier), float(m.sample_rate), int(m.steps)) for m in fixed)
    key = (float(target_epsilon), float(delta), float(sample_rate), int(steps), entries)
    if _calibration_folder is None:
        return _calibrate(*key)
    path = _calibration_folder / f"{hashlib.sha256(repr(key).encode()).hexdigest()}.json"
    if path.is_file():
        saved = json.loads(path.read_text())
        if saved.get("key") == repr(key):
            return float(saved["noise_multiplier"])
    sigma = _calibrate(*key)
    from fedheme.io import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps({"key": repr(key), "noise_multiplier": sigma}))
    return sigma


@lru_cache(maxsize=4096)
def _calibrate(target_epsilon: float, delta: float, sample_rate: float, steps: int, entries: tuple) -> float:
    """:func:`calibrate_noise` on the numbers alone (names do not change epsilon; each
    seed's release has its own name and the same noise)."""
    fixed = [Mechanism("fixed", *entry) for entry in entries]
    spent = epsilon_of(fixed, delta)
    if spent >= target_epsilon:
        raise ValueError(f"preprocessing releases alone spend epsilon {spent:.3f} >= target {target_epsilon}")

    def total(sigma: float) -> float:
        return epsilon_of(fixed + [Mechanism("dp-sgd", sigma, sample_rate, steps)], delta)

    low, high = 0.1, 1.0
    if total(low) <= target_epsilon:
        return low
    while total(high) > target_epsilon:
        low, high = high, high * 2
        if high > 1e5:
            raise ValueError("the privacy budget is too small for this many steps")
    # epsilon falls smoothly with sigma: Brent's method on log epsilon needs about 6
    # evaluations where bisection to 0.1% needed 10 (each one is Opacus' RDP series)
    from scipy.optimize import brentq

    root = brentq(lambda sigma: math.log(total(sigma) / target_epsilon), low, high, rtol=1e-5)
    sigma = min(high, root * (1 + 1e-4))
    while total(sigma) > target_epsilon:  # the smallest sigma within 0.1% that meets the target
        sigma = min(high, sigma * (1 + 1e-4))
    return sigma
