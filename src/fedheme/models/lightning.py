"""Discrete-time survival models as LightningModules (logistic hazard), and the softmax
classifiers of a categorical outcome (the marrow-blast classifier).

Each module is a network of :mod:`fedheme.models.networks` (linear, or an MLP with LayerNorm)
with a ``training_step`` whose loss is a *sum over patients*; the federated trainer
(:mod:`fedheme.federated.client`) calls it in a plain loop under Opacus (the Lightning
Trainer's per-step overhead dominates problems this small: see ``bench/dp_overhead.py``),
and a Lightning Trainer can fit the same module unchanged. The risk score orders patients
at every horizon, so it is what the C-index uses.
"""

from __future__ import annotations

import lightning.pytorch as pl
import torch

from fedheme.models.networks import NETWORKS, SOFTMAX_NETWORKS, LogisticHazardNet, SoftmaxNet, build_network
from fedheme.models.losses import logistic_hazard_loss, softmax_loss


class LogisticHazard(LogisticHazardNet, pl.LightningModule):
    """Base: per-bin baseline plus a risk network, trainable by Lightning.

    Args:
        n_features: input width.
        n_bins: number of time bins K.
        n_treatment: width of the per-bin treatment coding (0: none).
        lr: learning rate (used by ``configure_optimizers``).
    """

    def __init__(self, n_features: int, n_bins: int, n_treatment: int = 0, lr: float = 0.05):
        super().__init__(n_features, n_bins, n_treatment)
        self.save_hyperparameters()

    def training_step(self, batch, batch_idx: int = 0) -> torch.Tensor:
        """Sum over the batch's patients of their negative log-likelihood (a batch of
        (x, bin_index, event) or, with a treatment term, (x, bin_index, event, treatment))."""
        x, bin_index, event, *treatment = batch
        loss = logistic_hazard_loss(self(x, *treatment), bin_index, event).sum()
        self.log("train_loss_sum", loss, on_step=False, on_epoch=True, batch_size=x.shape[0])
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def _lightning_module(network: type[LogisticHazardNet]) -> type[LogisticHazard]:
    """``network`` with the training step of :class:`LogisticHazard`."""
    name = network.__name__.removesuffix("Net") + "LogisticHazard"
    return type(name, (LogisticHazard, network), {"__doc__": network.__doc__, "__module__": __name__, "__qualname__": name})


#: The LightningModule of each network of the registry (fedheme.models.networks.NETWORKS).
MODULES: dict[str, type[LogisticHazard]] = {kind: _lightning_module(network) for kind, network in NETWORKS.items()}
LinearLogisticHazard, MLPLogisticHazard = MODULES["linear"], MODULES["mlp"]


class SoftmaxClassifier(SoftmaxNet, pl.LightningModule):
    """Base of the softmax classifiers, trainable by Lightning.

    Args:
        n_features: input width.
        n_classes: number of classes C.
        lr: learning rate (used by ``configure_optimizers``).
    """

    def __init__(self, n_features: int, n_classes: int, lr: float = 0.05):
        super().__init__(n_features, n_classes)
        self.save_hyperparameters()

    def training_step(self, batch, batch_idx: int = 0) -> torch.Tensor:
        """Sum over the batch's patients of their multinomial negative log-likelihood (a batch
        of (x, class, event) as the design matrix gives it)."""
        x, label, _event = batch
        loss = softmax_loss(self(x), label).sum()
        self.log("train_loss_sum", loss, on_step=False, on_epoch=True, batch_size=x.shape[0])
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def _softmax_module(network: type[SoftmaxNet]) -> type[SoftmaxClassifier]:
    """``network`` with the training step of :class:`SoftmaxClassifier`."""
    name = network.__name__.removesuffix("Net") + "Classifier"
    return type(name, (SoftmaxClassifier, network), {"__doc__": network.__doc__, "__module__": __name__, "__qualname__": name})


#: The LightningModule of each softmax network (fedheme.models.networks.SOFTMAX_NETWORKS).
SOFTMAX_MODULES: dict[str, type[SoftmaxClassifier]] = {kind: _softmax_module(network) for kind, network in SOFTMAX_NETWORKS.items()}


def build_model(kind: str, n_features: int, n_bins: int, seed: int, *, task: str = "hazard") -> LogisticHazard | SoftmaxClassifier:
    """A freshly initialised LightningModule; the seed fixes the initial weights (the same
    weights as :func:`fedheme.models.networks.build_network` gives the plain network).

    Args:
        n_bins: time bins (task ``hazard``) or classes (task ``softmax``).
    """
    classes = SOFTMAX_MODULES if task == "softmax" else MODULES
    return build_network(kind, n_features, n_bins, seed, classes=classes, task=task)
