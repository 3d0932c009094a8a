"""Shared by the simulators of every disease kind: how many patients each simulated site gets."""

from __future__ import annotations

import numpy as np


def site_sizes(n: int, k: int, *, minimum: int, concentration: float, rng: np.random.Generator, unequal: bool = True) -> np.ndarray:
    """Patients per site: ``k`` integers >= ``minimum`` summing to ``n``.

    The patients above the minimum are shared by a symmetric Dirichlet(``concentration``)
    draw (small concentration: very unequal sites), or equally when ``unequal`` is False,
    and rounded by largest remainder, so every site is within one patient of its share.

    Raises:
        ValueError: ``n`` cannot give every site ``minimum`` patients.
    """
    spare = n - k * minimum
    if spare < 0:
        raise ValueError(f"{n} patients cannot fill {k} sites of at least {minimum}: lower the minimum site size or use fewer sites")
    shares = rng.dirichlet(np.full(k, concentration)) if unequal else np.full(k, 1 / k)
    exact = shares * spare
    sizes = np.floor(exact).astype(int)
    remainder = spare - sizes.sum()
    sizes[np.argsort(-(exact - sizes), kind="stable")[:remainder]] += 1
    return sizes + minimum
