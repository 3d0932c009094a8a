"""An independent recomputation of epsilon with Google's ``dp-accounting``, not Opacus.

Each mechanism of a history is a Gaussian mechanism (noise multiplier sigma), Poisson
subsampled at rate q when q < 1, self-composed over its steps; the history is their
composition. Two accountants of ``dp-accounting`` bound its epsilon at delta: the Rényi-DP
accountant (Mironov 2017; Mironov, Talwar and Zhang 2019: the same analysis Opacus uses,
with another order grid) and the privacy-loss-distribution accountant (Koskela et al.
2020; Doroshenko et al. 2022), which is tighter. The two RDP totals differ by a few
percent (other orders, another conversion to (epsilon, delta)); a total Opacus states below
the PLD bound would be a bug.
"""

from __future__ import annotations

import math
from collections import Counter

from fedheme.privacy.accounting import Mechanism

#: Resolution of the privacy-loss distribution (smaller: tighter and slower).
PLD_DISCRETISATION = 1e-3


def _events(history: list[Mechanism]):
    import dp_accounting

    steps = Counter()
    for m in history:
        if m.steps > 0:
            steps[(float(m.noise_multiplier), float(m.sample_rate))] += int(m.steps)
    events = []
    for (sigma, q), count in sorted(steps.items()):
        event = dp_accounting.GaussianDpEvent(sigma)
        if q < 1.0:
            event = dp_accounting.PoissonSampledDpEvent(q, event)
        events.append(dp_accounting.SelfComposedDpEvent(event, count))
    return dp_accounting.ComposedDpEvent(events)


def independent_epsilons(history: list[Mechanism], delta: float) -> dict[str, float]:
    """``{"rdp": ..., "pld": ...}``: epsilon of ``history`` at ``delta`` by dp-accounting's
    RDP and PLD accountants; inf when a mechanism adds no noise, 0 for an empty history."""
    active = [m for m in history if m.steps > 0]
    if not active:
        return {"rdp": 0.0, "pld": 0.0}
    if any(m.noise_multiplier <= 0 for m in active):
        return {"rdp": math.inf, "pld": math.inf}
    from dp_accounting.pld import PLDAccountant
    from dp_accounting.rdp import RdpAccountant

    event = _events(active)
    rdp = RdpAccountant().compose(event).get_epsilon(delta)
    pld = PLDAccountant(value_discretization_interval=PLD_DISCRETISATION).compose(event).get_epsilon(delta)
    return {"rdp": float(rdp), "pld": float(pld)}
