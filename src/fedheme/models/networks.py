"""The networks of the discrete-time survival models, in plain PyTorch.

``logit h_ij = alpha_j + r(x_i)``: a baseline logit per time bin plus a patient risk score
``r`` that is linear or a small MLP with LayerNorm (no BatchNorm, which mixes patients and
breaks per-sample clipping). The LightningModules of :mod:`fedheme.models.lightning` are these
networks with a training step; evaluation jobs load trained weights into the networks
directly, without importing Lightning (seconds per job).
"""

from __future__ import annotations

import torch
from torch import nn


class LogisticHazardNet(nn.Module):
    """Per-bin baseline plus a risk network.

    Args:
        n_features: input width.
        n_bins: number of time bins K (1 for a binary outcome: logistic regression).
    """

    def __init__(self, n_features: int, n_bins: int, **kwargs):
        super().__init__(**kwargs)
        # alpha_j as the weight of a Linear on a constant input, so that Opacus computes its
        # per-sample gradients; no bias, which would be a second copy of alpha_j (twice its
        # gradient in every patient's clipped norm, and twice the DP noise on alpha_j)
        self.baseline = nn.Linear(1, n_bins, bias=False)
        nn.init.constant_(self.baseline.weight, -2.0)
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


class LinearNet(LogisticHazardNet):
    """r(x) = beta . x (no intercept: the baseline carries it)."""

    def build_risk(self, n_features: int) -> nn.Module:
        layer = nn.Linear(n_features, 1, bias=False)
        nn.init.zeros_(layer.weight)
        return layer


class MLPNet(LogisticHazardNet):
    """r(x) = MLP(x): Linear -> LayerNorm -> ReLU -> Linear."""

    hidden = 16

    def build_risk(self, n_features: int) -> nn.Module:
        return nn.Sequential(nn.Linear(n_features, self.hidden), nn.LayerNorm(self.hidden), nn.ReLU(), nn.Linear(self.hidden, 1, bias=False))


#: The model registry: every kind of network fedheme trains (config ``training.model``).
#: The LightningModules of :mod:`fedheme.models.lightning` are derived from it.
NETWORKS: dict[str, type[LogisticHazardNet]] = {"linear": LinearNet, "mlp": MLPNet}


def build_network(kind: str, n_features: int, n_bins: int, seed: int = 0, *, classes: dict | None = None) -> LogisticHazardNet:
    """A freshly initialised network of ``kind``; the seed fixes the initial weights.

    Args:
        classes: kind -> class to instantiate (default :data:`NETWORKS`; the Lightning
            modules pass theirs, which have the same parameters and names).
    """
    classes = NETWORKS if classes is None else classes
    if kind not in classes:
        raise ValueError(f"unknown model {kind!r}; choose one of {sorted(classes)}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return classes[kind](n_features, n_bins)
