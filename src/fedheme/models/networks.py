"""The networks of the discrete-time survival models, in plain PyTorch.

``logit h_ij = alpha_j + r(x_i)``: a baseline logit per time bin plus a patient risk score
``r`` that is linear or a small MLP with LayerNorm (no BatchNorm, which mixes patients and
breaks per-sample clipping). A network with a time-dependent treatment adds
``theta . t_ij``, where ``t_ij`` codes the treatment a patient has had by bin ``j``
(:mod:`fedheme.treatment.coding`). The LightningModules of :mod:`fedheme.models.lightning` are these
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
        n_treatment: width D of the per-bin treatment coding (0: no treatment term).
    """

    def __init__(self, n_features: int, n_bins: int, n_treatment: int = 0, **kwargs):
        super().__init__(**kwargs)
        # alpha_j as the weight of a Linear on a constant input, so that Opacus computes its
        # per-sample gradients; no bias, which would be a second copy of alpha_j (twice its
        # gradient in every patient's clipped norm, and twice the DP noise on alpha_j)
        self.baseline = nn.Linear(1, n_bins, bias=False)
        nn.init.constant_(self.baseline.weight, -2.0)
        self.risk_net = self.build_risk(n_features)
        if n_treatment:
            # theta as a Linear on the (batch, K, D) coding: Opacus computes its per-patient
            # gradient summed over the patient's bins, so clipping bounds the whole patient
            self.treatment = nn.Linear(n_treatment, 1, bias=False)
            nn.init.zeros_(self.treatment.weight)

    def build_risk(self, n_features: int) -> nn.Module:
        raise NotImplementedError

    def risk(self, x: torch.Tensor) -> torch.Tensor:
        """Risk score r(x), shape (batch,)."""
        return self.risk_net(x).squeeze(-1)

    def forward(self, x: torch.Tensor, treatment: torch.Tensor | None = None) -> torch.Tensor:
        """Hazard logits, shape (batch, K).

        Args:
            x: features, shape (batch, p).
            treatment: per-bin treatment coding, shape (batch, K, D) (networks with a
                treatment term only).
        """
        ones = torch.ones(x.shape[0], 1, dtype=x.dtype, device=x.device)
        logits = self.baseline(ones) + self.risk_net(x)
        if treatment is not None:
            logits = logits + self.treatment(treatment).squeeze(-1)
        return logits

    def survival(self, x: torch.Tensor, treatment: torch.Tensor | None = None) -> torch.Tensor:
        """Probability of being event-free at the end of each bin, shape (batch, K)."""
        return torch.cumprod(1.0 - torch.sigmoid(self(x, treatment)), dim=1)


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


def build_network(kind: str, n_features: int, n_bins: int, seed: int = 0, *, classes: dict | None = None,
                  n_treatment: int = 0) -> LogisticHazardNet:  # fmt: skip
    """A freshly initialised network of ``kind``; the seed fixes the initial weights.

    Args:
        n_treatment: width of the per-bin treatment coding (0: a prognostic model).
        classes: kind -> class to instantiate (default :data:`NETWORKS`; the Lightning
            modules pass theirs, which have the same parameters and names).
    """
    classes = NETWORKS if classes is None else classes
    if kind not in classes:
        raise ValueError(f"unknown model {kind!r}; choose one of {sorted(classes)}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return classes[kind](n_features, n_bins, n_treatment) if n_treatment else classes[kind](n_features, n_bins)
