"""Discrete-time survival: the logistic-hazard likelihood (the bins are in fedheme.models.timebins).

Follow-up is cut into K bins ``[0, e_1), [e_1, e_2), ..., [e_{K-1}, horizon]``; a patient
followed beyond the horizon is censored there. With hazard ``h_ij = P(event in bin j |
alive at its start)``, a patient whose follow-up ends in bin ``k`` contributes

    loss_i = - sum_{j < k} log(1 - h_ij) - [d_i log h_ik + (1 - d_i) log(1 - h_ik)]

(censored patients are taken to survive their last bin), so the total loss is a sum over
patients and per-patient gradient clipping in DP-SGD bounds each patient's influence.

A categorical outcome (C classes, a softmax network) has the multinomial negative
log-likelihood ``loss_i = -log p_i,y_i``, again one term per patient (:func:`softmax_loss`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


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


def softmax_loss(logits: torch.Tensor, label: torch.Tensor, _event: torch.Tensor | None = None) -> torch.Tensor:
    """Multinomial negative log-likelihood per patient, shape (batch,).

    Args:
        logits: class logits, shape (batch, C).
        label: each patient's class, shape (batch,), int64 in [0, C).
        _event: unused (the design matrix's event column, all ones for a categorical
            outcome), so that both losses take the same batch.
    """
    return F.cross_entropy(logits, label, reduction="none")


#: The per-patient loss of each task of :data:`fedheme.models.networks.TASKS`.
LOSSES = {"hazard": logistic_hazard_loss, "softmax": softmax_loss}


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
