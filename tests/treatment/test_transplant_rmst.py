"""RMST against hand-computed cases, and the policies compared by it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fedheme.models.networks import build_network
from fedheme.treatment.coding import TransplantCoding
from fedheme.treatment.decision import policies, policy_rmst
from fedheme.treatment.rmst import rmst


def test_rmst_of_a_hand_computed_curve():
    # S = 1 at 0, 0.5 at 1 year, 0.25 at 2 years, linear in between
    knots = np.array([0.0, 1.0, 2.0])
    surv = np.array([[0.5, 0.25], [1.0, 1.0]])
    # to 2 years: (1 + 0.5)/2 + (0.5 + 0.25)/2 = 1.125; nobody dies: 2
    np.testing.assert_allclose(rmst(surv, knots, 2.0), [1.125, 2.0])
    # to 1.5 years: 0.75 + 0.5 * (0.5 + 0.375) / 2 = 0.96875
    np.testing.assert_allclose(rmst(surv, knots, 1.5), [0.96875, 1.5])
    np.testing.assert_allclose(rmst(surv, knots, 0.5), [0.5 * (1 + 0.75) / 2, 0.5])


def test_rmst_refuses_a_horizon_beyond_the_curve_or_a_shape_mismatch():
    with pytest.raises(ValueError, match="tau"):
        rmst(np.array([[0.5, 0.25]]), np.array([0.0, 1.0, 2.0]), 3.0)
    with pytest.raises(ValueError, match="bins"):
        rmst(np.array([[0.5]]), np.array([0.0, 1.0, 2.0]), 1.0)


def test_policies_follow_the_transplant_terms_by_hand():
    """Constant hazard 0.1 per bin without transplant; transplant multiplies the odds by 3 in
    its first year and by 1/3 later. Every bin is one year, so RMST is the trapezoid sum."""
    coding = TransplantCoding((1.0, 2.0, 3.0), 4.0, early_years=1.0, modifiers=("age",))
    net = build_network("linear", 1, coding.n_bins, n_treatment=coding.n_treatment)
    logit = np.log(0.1 / 0.9)
    with torch.no_grad():
        net.baseline.weight.fill_(logit)
        net.treatment.weight.copy_(torch.tensor([[np.log(3.0), 0.0, -np.log(3.0), 0.0]]))
    x, w = np.zeros((1, 1), np.float32), np.zeros((1, 1), np.float32)
    out = policy_rmst(net, x, w, coding, taus=[4.0], delay_years=1.0)

    def by_hand(hazards):
        s = np.cumprod(1 - np.array(hazards))
        values = np.concatenate([[1.0], s])
        return float(np.sum((values[1:] + values[:-1]) / 2))

    h, early, late = 0.1, 1 / (1 + np.exp(-(logit + np.log(3)))), 1 / (1 + np.exp(-(logit - np.log(3))))
    assert out[("never", 4.0)][0] == pytest.approx(by_hand([h, h, h, h]))
    assert out[("at_diagnosis", 4.0)][0] == pytest.approx(by_hand([early, late, late, late]))
    assert out[("delayed", 4.0)][0] == pytest.approx(by_hand([h, early, late, late]))
    assert set(policies(None)) == {"never", "at_diagnosis"}
