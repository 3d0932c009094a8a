"""Discrete-time survival models as LightningModules (logistic hazard, proportional odds).

Each module is a network of :mod:`fedheme.networks` (linear, or an MLP with LayerNorm)
with a ``training_step`` whose loss is a *sum over patients*; the federated trainer
(:mod:`fedheme.federated`) calls it in a plain loop under Opacus (the Lightning
Trainer's per-step overhead dominates problems this small: see ``bench/dp_overhead.py``),
and a Lightning Trainer can fit the same module unchanged. The risk score orders patients
at every horizon, so it is what the C-index uses.
"""

from __future__ import annotations

import lightning.pytorch as pl
import torch

from fedheme.networks import LinearNet, LogisticHazardNet, MLPNet
from fedheme.survival import logistic_hazard_loss


class LogisticHazard(LogisticHazardNet, pl.LightningModule):
    """Base: per-bin baseline plus a risk network, trainable by Lightning.

    Args:
        n_features: input width.
        n_bins: number of time bins K.
        lr: learning rate (used by ``configure_optimizers``).
    """

    def __init__(self, n_features: int, n_bins: int, lr: float = 0.05):
        super().__init__(n_features, n_bins)
        self.save_hyperparameters()

    def training_step(self, batch, batch_idx: int = 0) -> torch.Tensor:
        """Sum over the batch's patients of their negative log-likelihood."""
        x, bin_index, event = batch
        loss = logistic_hazard_loss(self(x), bin_index, event).sum()
        self.log("train_loss_sum", loss, on_step=False, on_epoch=True, batch_size=x.shape[0])
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


class LinearLogisticHazard(LogisticHazard, LinearNet):
    """r(x) = beta . x (no intercept: the baseline carries it)."""


class MLPLogisticHazard(LogisticHazard, MLPNet):
    """r(x) = MLP(x): Linear -> LayerNorm -> ReLU -> Linear."""


MODELS = {"linear": LinearLogisticHazard, "mlp": MLPLogisticHazard}


def build_model(kind: str, n_features: int, n_bins: int, seed: int) -> LogisticHazard:
    """A freshly initialised model; the seed fixes the initial weights."""
    if kind not in MODELS:
        raise ValueError(f"unknown model {kind!r}; choose one of {sorted(MODELS)}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return MODELS[kind](n_features, n_bins)
