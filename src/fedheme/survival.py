"""Discrete-time survival: time bins, the logistic-hazard likelihood and survival curves.

Follow-up is cut into K bins ``[0, e_1), [e_1, e_2), ..., [e_{K-1}, horizon]``; a patient
followed beyond the horizon is censored there. With hazard ``h_ij = P(event in bin j |
alive at its start)``, a patient whose follow-up ends in bin ``k`` contributes

    loss_i = - sum_{j < k} log(1 - h_ij) - [d_i log h_ik + (1 - d_i) log(1 - h_ik)]

(censored patients are taken to survive their last bin), so the total loss is a sum over
patients and per-patient gradient clipping in DP-SGD bounds each patient's influence.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

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


def logistic_hazard_loss(logits: torch.Tensor, bin_index: torch.Tensor, event: torch.Tensor) -> torch.Tensor:
    """Negative log-likelihood per patient, shape (batch,).

    Args:
        logits: hazard logits, shape (batch, K).
        bin_index: bin in which follow-up ends, shape (batch,), int64.
        event: 1 for an event in that bin, 0 for censoring, shape (batch,).
    """
    k = logits.shape[1]
    positions = torch.arange(k, device=logits.device).unsqueeze(0)
    at_risk = (positions <= bin_index.unsqueeze(1)).to(logits.dtype)
    target = (positions == bin_index.unsqueeze(1)).to(logits.dtype) * event.unsqueeze(1)
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    return (bce * at_risk).sum(dim=1)


class LogisticHazardLoss(torch.nn.Module):
    """:func:`logistic_hazard_loss` as a criterion with a ``reduction`` ('none', 'sum' or
    'mean'), the form Opacus' ghost clipping expects."""

    def __init__(self, reduction: str = "sum"):
        super().__init__()
        self.reduction = reduction

    def forward(self, logits: torch.Tensor, bin_index: torch.Tensor, event: torch.Tensor) -> torch.Tensor:
        per_patient = logistic_hazard_loss(logits, bin_index, event)
        if self.reduction == "none":
            return per_patient
        return per_patient.sum() if self.reduction == "sum" else per_patient.mean()


def survival_curves(logits: torch.Tensor) -> torch.Tensor:
    """S(end of bin j) = prod_{l <= j} (1 - h_l), shape (batch, K)."""
    return torch.cumprod(1 - torch.sigmoid(logits), dim=1)


def survival_at(logits: np.ndarray, edges: np.ndarray, horizon: float, times: np.ndarray) -> np.ndarray:
    """Survival probabilities at given times (years), step function at bin ends. Shape (batch, len(times))."""
    surv = survival_curves(torch.as_tensor(logits)).numpy()
    ends = np.concatenate([edges, [horizon]])
    index = np.searchsorted(ends, np.asarray(times), side="right") - 1
    with_start = np.concatenate([np.ones((surv.shape[0], 1)), surv], axis=1)
    return with_start[:, index + 1]
