"""The networks of the discrete-time survival models, in plain PyTorch.

``logit h_ij = alpha_j + r(x_i)``: a baseline logit per time bin plus a patient risk score
``r`` that is linear or a small MLP with LayerNorm (no BatchNorm, which mixes patients and
breaks per-sample clipping). A network with a time-dependent treatment adds
``theta . t_ij``, where ``t_ij`` codes the treatment a patient has had by bin ``j``
(:mod:`fedheme.treatment.coding`). The LightningModules of :mod:`fedheme.models.lightning` are these
networks with a training step; evaluation jobs load trained weights into the networks
directly, without importing Lightning (seconds per job).

A categorical outcome (the marrow-blast category of :mod:`fedheme.diagnosis.marrow`) has
softmax networks of the same two kinds: ``logit_ic = alpha_c + r_c(x_i)`` over C classes
(multinomial logistic regression, or the MLP with C outputs).
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


def linear_layer(n_features: int, width: int) -> nn.Module:
    """r(x) = B x, shape (batch, width), no intercept (the baseline carries it); zeros at start."""
    layer = nn.Linear(n_features, width, bias=False)
    nn.init.zeros_(layer.weight)
    return layer


#: Hidden width of the MLP networks.
HIDDEN = 16


def mlp_layers(n_features: int, width: int) -> nn.Module:
    """r(x) = MLP(x): Linear -> LayerNorm -> ReLU -> Linear, shape (batch, width)."""
    return nn.Sequential(nn.Linear(n_features, HIDDEN), nn.LayerNorm(HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, width, bias=False))


class LinearNet(LogisticHazardNet):
    """r(x) = beta . x (no intercept: the baseline carries it)."""

    def build_risk(self, n_features: int) -> nn.Module:
        return linear_layer(n_features, 1)


class MLPNet(LogisticHazardNet):
    """r(x) = MLP(x): Linear -> LayerNorm -> ReLU -> Linear."""

    def build_risk(self, n_features: int) -> nn.Module:
        return mlp_layers(n_features, 1)


class SoftmaxNet(nn.Module):
    """Per-class baseline plus a network of C outputs: ``logit_ic = alpha_c + r_c(x_i)``.

    Args:
        n_features: input width.
        n_classes: number of classes C.
    """

    def __init__(self, n_features: int, n_classes: int, **kwargs):
        super().__init__(**kwargs)
        # alpha_c as a Linear on a constant input, as in LogisticHazardNet (Opacus computes its
        # per-sample gradients; no bias, a second copy)
        self.baseline = nn.Linear(1, n_classes, bias=False)
        nn.init.zeros_(self.baseline.weight)
        self.risk_net = self.build_risk(n_features, n_classes)

    def build_risk(self, n_features: int, n_classes: int) -> nn.Module:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits, shape (batch, C)."""
        ones = torch.ones(x.shape[0], 1, dtype=x.dtype, device=x.device)
        return self.baseline(ones) + self.risk_net(x)

    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities, shape (batch, C), rows summing to 1."""
        return torch.softmax(self(x), dim=1)


class LinearSoftmaxNet(SoftmaxNet):
    """Multinomial logistic regression: r_c(x) = beta_c . x."""

    def build_risk(self, n_features: int, n_classes: int) -> nn.Module:
        return linear_layer(n_features, n_classes)


class MLPSoftmaxNet(SoftmaxNet):
    """r(x) = MLP(x) with C outputs."""

    def build_risk(self, n_features: int, n_classes: int) -> nn.Module:
        return mlp_layers(n_features, n_classes)


#: The model registry: every kind of network fedheme trains (config ``training.model``).
#: The LightningModules of :mod:`fedheme.models.lightning` are derived from it.
NETWORKS: dict[str, type[LogisticHazardNet]] = {"linear": LinearNet, "mlp": MLPNet}
#: The same kinds for a categorical outcome (task ``softmax``).
SOFTMAX_NETWORKS: dict[str, type[SoftmaxNet]] = {"linear": LinearSoftmaxNet, "mlp": MLPSoftmaxNet}
#: What a network predicts: per-bin hazards (survival and binary outcomes) or class probabilities.
TASKS = ("hazard", "softmax")


def build_network(kind: str, n_features: int, n_bins: int, seed: int = 0, *, classes: dict | None = None,
                  n_treatment: int = 0, task: str = "hazard") -> LogisticHazardNet | SoftmaxNet:  # fmt: skip
    """A freshly initialised network of ``kind``; the seed fixes the initial weights.

    Args:
        n_bins: time bins K (task ``hazard``) or classes C (task ``softmax``).
        n_treatment: width of the per-bin treatment coding (0: a prognostic model).
        classes: kind -> class to instantiate (default :data:`NETWORKS`, or
            :data:`SOFTMAX_NETWORKS` for task ``softmax``; the Lightning modules pass theirs,
            which have the same parameters and names).
        task: ``hazard`` or ``softmax`` (:data:`TASKS`).
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {TASKS}")
    if classes is None:
        classes = SOFTMAX_NETWORKS if task == "softmax" else NETWORKS
    if kind not in classes:
        raise ValueError(f"unknown model {kind!r}; choose one of {sorted(classes)}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return classes[kind](n_features, n_bins, n_treatment) if n_treatment else classes[kind](n_features, n_bins)
