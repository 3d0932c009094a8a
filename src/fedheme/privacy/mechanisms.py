"""The Gaussian mechanism of the releases a site makes before training (noise sd = noise
multiplier x L2 sensitivity)."""

from __future__ import annotations

import numpy as np


def gaussian_release(values: np.ndarray, l2_sensitivity: float, noise_multiplier: float, rng: np.random.Generator) -> np.ndarray:
    """Add N(0, (noise_multiplier * l2_sensitivity)^2) to every cell; no noise when the multiplier is 0."""
    values = np.asarray(values, dtype=float)
    if noise_multiplier <= 0:
        return values.copy()
    return values + rng.normal(0.0, noise_multiplier * l2_sensitivity, size=values.shape)
