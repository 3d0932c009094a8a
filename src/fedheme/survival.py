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

from fedheme.timebins import (  # noqa: F401  (re-exported: the time axis of these models)
    HISTOGRAM_STEP_YEARS,
    bin_edges_from_histogram,
    discretise,
    event_histogram,
    histogram_grid,
)


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
