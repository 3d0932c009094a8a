"""A Cox proportional-hazards model in the networks' interface (``risk``, ``survival``).

The ``cox`` baseline is fitted by a maintained library (lifelines, see
:mod:`fedheme.federated.reference`) on the pooled training sites without DP: a reference
that shows whether fedheme's own optimiser reaches the optimum of a linear model. Its
coefficients and its baseline survival at the ends of the federation's time bins travel
in the model bundle like any run's weights, so test sites evaluate it like any model.
"""

from __future__ import annotations

import torch
from torch import nn


class CoxNet(nn.Module):
    """``risk(x) = beta . x``; ``S(t_k | x) = S0(t_k) ** exp(beta . x)`` at the bin ends.

    Args:
        n_features: input width p.
        n_bins: number of time bins K (the baseline survival is stored at their ends).
    """

    def __init__(self, n_features: int, n_bins: int):
        super().__init__()
        self.risk_net = nn.Linear(n_features, 1, bias=False)
        nn.init.zeros_(self.risk_net.weight)
        self.register_buffer("baseline_survival", torch.ones(n_bins))

    def risk(self, x: torch.Tensor) -> torch.Tensor:
        """Linear predictor beta . x, shape (batch,)."""
        return self.risk_net(x).squeeze(-1)

    def survival(self, x: torch.Tensor) -> torch.Tensor:
        """Event-free probability at the end of each bin, shape (batch, K)."""
        return self.baseline_survival.clamp(1e-12, 1.0)[None, :] ** torch.exp(self.risk(x))[:, None]
