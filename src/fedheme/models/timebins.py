"""The time axis of discrete-time survival models, with numpy only (no torch import):
the fine grid on which sites release event counts, the bins fitted from them, and the
discretisation of follow-up. Used by the release jobs, which must start fast.
"""

from __future__ import annotations

import numpy as np

#: Fine grid (years) on which sites release event counts, from which bin edges are fitted.
HISTOGRAM_STEP_YEARS = 0.25


def histogram_grid(horizon: float) -> np.ndarray:
    """Edges of the fine event-time grid: 0, 0.25, ..., horizon (years)."""
    return np.arange(0.0, horizon + 1e-9, HISTOGRAM_STEP_YEARS)


def event_histogram(time: np.ndarray, event: np.ndarray, horizon: float) -> np.ndarray:
    """Events per fine-grid cell (events after the horizon are not counted). Shape (cells,)."""
    grid = histogram_grid(horizon)
    mask = (event == 1) & (time < horizon)
    counts, _ = np.histogram(time[mask], bins=grid)
    return counts.astype(float)


def bin_edges_from_histogram(counts: np.ndarray, n_bins: int, horizon: float) -> np.ndarray:
    """Interior bin edges (years, shape (n_bins - 1,)) at quantiles of the pooled event times.

    ``counts`` may be noisy (DP release): negative cells are set to 0 and edges that
    coincide are spread apart on the grid, so the result is always strictly increasing.
    """
    grid = histogram_grid(horizon)
    counts = np.clip(np.asarray(counts, dtype=float), 0, None)
    if counts.sum() <= 0:
        return np.linspace(0, horizon, n_bins + 1)[1:-1]
    cumulative = np.concatenate([[0.0], np.cumsum(counts)]) / counts.sum()
    targets = np.arange(1, n_bins) / n_bins
    edges = np.interp(targets, cumulative, grid)
    edges = np.round(edges / HISTOGRAM_STEP_YEARS) * HISTOGRAM_STEP_YEARS
    for i in range(len(edges)):
        low = HISTOGRAM_STEP_YEARS if i == 0 else edges[i - 1] + HISTOGRAM_STEP_YEARS
        edges[i] = max(edges[i], low)
    return np.minimum(edges, horizon - HISTOGRAM_STEP_YEARS * (len(edges) - np.arange(len(edges))))


def discretise(time: np.ndarray, event: np.ndarray, edges: np.ndarray, horizon: float) -> tuple[np.ndarray, np.ndarray]:
    """Bin index (0..K-1) and event indicator per patient; follow-up beyond the horizon is censored."""
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=float).copy()
    beyond = time >= horizon
    event[beyond] = 0.0
    index = np.searchsorted(edges, np.minimum(time, horizon), side="right")
    return index.astype(np.int64), event.astype(np.float32)
