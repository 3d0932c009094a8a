"""Discrete-time survival models as LightningModules (logistic hazard, proportional odds).

``logit h_ij = alpha_j + r(x_i)``: a baseline logit per time bin plus a patient risk score
``r`` that is linear (:class:`LinearLogisticHazard`) or a small MLP with LayerNorm
(:class:`MLPLogisticHazard`; no BatchNorm, which mixes patients and breaks per-sample
clipping). The risk score orders patients at every horizon, so it is what the C-index uses.

Both modules implement ``training_step`` with a loss that is a *sum over patients*; the
federated trainer (:mod:`fedheme.federated`) calls it in a plain loop under Opacus (the
Lightning Trainer's per-step overhead dominates problems this small: see
``bench/dp_overhead.py``), and a Lightning Trainer can fit the same module unchanged.
"""

from __future__ import annotations

import lightning.pytorch as pl
import torch
from torch import nn

from fedheme.survival import logistic_hazard_loss


class LogisticHazard(pl.LightningModule):
    """Base: per-bin baseline plus a risk network.

    Args:
        n_features: input width.
        n_bins: number of time bins K.
        lr: learning rate (used by ``configure_optimizers``).
    """

    def __init__(self, n_features: int, n_bins: int, lr: float = 0.05):
        super().__init__()
        self.save_hyperparameters()
        # alpha_j as a Linear on a constant input: Opacus computes its per-sample gradients
        self.baseline = nn.Linear(1, n_bins)
        nn.init.zeros_(self.baseline.weight)
        nn.init.constant_(self.baseline.bias, -2.0)
        self.risk_net = self.build_risk(n_features)

    def build_risk(self, n_features: int) -> nn.Module:
        raise NotImplementedError

    def risk(self, x: torch.Tensor) -> torch.Tensor:
        """Risk score r(x), shape (batch,)."""
        return self.risk_net(x).squeeze(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Hazard logits, shape (batch, K)."""
        ones = torch.ones(x.shape[0], 1, dtype=x.dtype, device=x.device)
        return self.baseline(ones) + self.risk_net(x)

    def survival(self, x: torch.Tensor) -> torch.Tensor:
        """Probability of being event-free at the end of each bin, shape (batch, K)."""
        return torch.cumprod(1.0 - torch.sigmoid(self(x)), dim=1)

    def training_step(self, batch, batch_idx: int = 0) -> torch.Tensor:
        """Sum over the batch's patients of their negative log-likelihood."""
        x, bin_index, event = batch
        loss = logistic_hazard_loss(self(x), bin_index, event).sum()
        self.log("train_loss_sum", loss, on_step=False, on_epoch=True, batch_size=x.shape[0])
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


class LinearLogisticHazard(LogisticHazard):
    """r(x) = beta . x (no intercept: the baseline carries it)."""

    def build_risk(self, n_features: int) -> nn.Module:
        layer = nn.Linear(n_features, 1, bias=False)
        nn.init.zeros_(layer.weight)
        return layer


class MLPLogisticHazard(LogisticHazard):
    """r(x) = MLP(x): Linear -> LayerNorm -> ReLU -> Linear."""

    def __init__(self, n_features: int, n_bins: int, lr: float = 0.05, hidden: int = 16):
        self.hidden = hidden
        super().__init__(n_features, n_bins, lr)

    def build_risk(self, n_features: int) -> nn.Module:
        return nn.Sequential(nn.Linear(n_features, self.hidden), nn.LayerNorm(self.hidden), nn.ReLU(), nn.Linear(self.hidden, 1, bias=False))


MODELS = {"linear": LinearLogisticHazard, "mlp": MLPLogisticHazard}


def build_model(kind: str, n_features: int, n_bins: int, seed: int) -> LogisticHazard:
    """A freshly initialised model; the seed fixes the initial weights."""
    if kind not in MODELS:
        raise ValueError(f"unknown model {kind!r}; choose one of {sorted(MODELS)}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return MODELS[kind](n_features, n_bins)
