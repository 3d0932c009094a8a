"""The time-dependent transplant coding, and per-patient clipping with several terms per patient."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from opacus import GradSampleModule
from opacus.optimizers import DPOptimizer

from fedheme.models.losses import logistic_hazard_loss
from fedheme.models.networks import build_network
from fedheme.treatment.coding import MODIFIERS, TransplantCoding
from fedheme.treatment.cohort import modifier_matrix, transplant_cohort

CODING = TransplantCoding((0.25, 0.5, 1.0, 2.0, 4.0), 8.0, early_years=1.0, modifiers=("ipssm_score", "age"))


def test_patient_transplanted_in_bin_j_is_untreated_before_j_and_treated_from_j():
    # bins: [0,.25) [.25,.5) [.5,1) [1,2) [2,4) [4,8]; transplant at 0.7 years: bin j = 2
    phases = CODING.phases(np.array([0.7]))[0]
    treated = phases.sum(axis=1)
    # untreated before j; in bin j only its part after the transplant, (1 - 0.7) / 0.5; whole bins after
    np.testing.assert_allclose(treated, [0, 0, 0.6, 1, 1, 1], atol=1e-6)
    # early: [0.7, 1.7): 0.6 of bin 2 and 0.7 of bin 3; late from 1.7: 0.3 of bin 3, then whole bins
    np.testing.assert_allclose(phases[:, 0], [0, 0, 0.6, 0.7, 0, 0], atol=1e-6)
    np.testing.assert_allclose(phases[:, 1], [0, 0, 0, 0.3, 1, 1], atol=1e-6)


def test_edges_never_and_beyond_the_horizon():
    phases = CODING.phases(np.array([0.0, 0.25, np.inf, 8.0, 9.5]))
    assert phases[0, :, 0].tolist() == [1, 1, 1, 0, 0, 0] and phases[0, :, 1].tolist() == [0, 0, 0, 1, 1, 1]
    assert phases[1].sum(axis=1).tolist() == [0, 1, 1, 1, 1, 1]  # a transplant on an edge opens the next bin
    assert phases[2:].sum() == 0  # never, or at or after the horizon: untreated throughout


def test_coding_multiplies_each_phase_by_one_and_the_modifiers():
    w = np.array([[0.5, -1.0]], np.float32)
    t = CODING.code(np.array([0.0]), w)
    assert t.shape == (1, CODING.n_bins, CODING.n_treatment) == (1, 6, 6)
    np.testing.assert_allclose(t[0, 0], [1, 0.5, -1.0, 0, 0, 0])
    np.testing.assert_allclose(t[0, 5], [0, 0, 0, 1, 0.5, -1.0])
    np.testing.assert_allclose(CODING.policy(3, np.zeros((3, 2), np.float32), None), 0.0)


def test_modifiers_are_clipped_and_scaled_by_public_constants():
    frame = pd.DataFrame({"ipssm_score": [-5.0, 1.0, None], "age": [50.0, 65.0, 99.0]})
    w = modifier_matrix(frame, ("ipssm_score", "age"))
    low, high, centre, scale = MODIFIERS["ipssm_score"]
    assert w[0, 0] == pytest.approx((low - centre) / scale) and w[1, 0] == pytest.approx(0.5) and math.isnan(w[2, 0])
    assert w[0, 1] == pytest.approx(-1.0) and w[2, 1] == pytest.approx((95 - 65) / 15)


def test_bad_edges_are_refused():
    with pytest.raises(ValueError, match="increase strictly"):
        TransplantCoding((1.0, 0.5), 8.0)
    with pytest.raises(ValueError, match="modifiers"):
        TransplantCoding((1.0,), 8.0, modifiers=("blasts",))


def test_cohort_leaves_out_a_transplant_without_date_and_converts_days():
    frame = pd.DataFrame({
        "patient_id": ["a", "b", "c", "d"], "os_years": [3.0, 2.0, 5.0, 1.0], "os_status": [1.0, 0.0, 1.0, 0.0],
        "transplant": [1.0, 1.0, 0.0, np.nan], "time_to_transplant_days": [365.25, np.nan, np.nan, np.nan],
        "ipssm_score": [0.1, 0.2, 0.3, 0.4], "age": [60.0, 61.0, 62.0, 63.0],
    })  # fmt: skip
    cohort = transplant_cohort(frame, CODING)
    assert cohort.rows["patient_id"].tolist() == ["a", "c"]
    assert cohort.transplant_years.tolist() == [1.0, math.inf]


def test_hazard_of_a_transplanted_patient_changes_only_from_its_transplant_bin():
    torch.manual_seed(0)
    net = build_network("linear", 3, CODING.n_bins, seed=1, n_treatment=CODING.n_treatment)
    with torch.no_grad():
        net.treatment.weight.copy_(torch.arange(1, 7, dtype=torch.float32).unsqueeze(0) / 10)
        net.risk_net.weight.normal_()
    x = torch.randn(1, 3)
    w = np.array([[0.5, -1.0]], np.float32)
    treated = net(x, torch.from_numpy(CODING.code(np.array([0.7]), w)))
    untreated = net(x, torch.from_numpy(CODING.policy(1, w, None)))
    diff = (treated - untreated).detach().numpy()[0]
    early, late = 0.1 + 0.2 * 0.5 - 0.3, 0.4 + 0.5 * 0.5 - 0.6
    np.testing.assert_allclose(diff, [0, 0, 0.6 * early, 0.7 * early + 0.3 * late, late, late], atol=1e-6)


def test_per_patient_clipping_bounds_all_terms_of_a_patient_together():
    """Opacus' per-sample gradient of a patient is the gradient of that patient's whole loss
    (every bin at risk, baseline, risk and transplant terms), and clipping bounds its norm."""
    torch.manual_seed(3)
    n, p = 6, 4
    coding = CODING
    x = torch.randn(n, p)
    years = np.array([0.1, 0.7, np.inf, 3.0, 0.0, np.inf])
    w = np.random.default_rng(0).normal(size=(n, 2)).astype(np.float32)
    t = torch.from_numpy(coding.code(years, w))
    bins = torch.tensor([5, 3, 2, 5, 1, 4])
    event = torch.tensor([0.0, 1.0, 1.0, 0.0, 1.0, 0.0])
    net = build_network("linear", p, coding.n_bins, seed=2, n_treatment=coding.n_treatment)
    with torch.no_grad():
        net.risk_net.weight.normal_()
        net.treatment.weight.normal_()
    expected = []
    for i in range(n):  # each patient's own gradient, one at a time
        net.zero_grad()
        logistic_hazard_loss(net(x[i : i + 1], t[i : i + 1]), bins[i : i + 1], event[i : i + 1]).sum().backward()
        expected.append(torch.cat([q.grad.reshape(-1) for q in net.parameters()]))
    module = GradSampleModule(net, loss_reduction="sum")
    module.zero_grad()
    logistic_hazard_loss(module(x, t), bins, event).sum().backward()
    per_sample = torch.cat([q.grad_sample.reshape(n, -1) for q in module.parameters()], dim=1)
    torch.testing.assert_close(per_sample, torch.stack(expected), rtol=1e-5, atol=1e-6)
    assert per_sample.norm(dim=1).max() > 0.5  # clipping below has work to do
    optimizer = DPOptimizer(torch.optim.SGD(module.parameters(), lr=1.0), noise_multiplier=0.0, max_grad_norm=0.5,
                            expected_batch_size=n, loss_reduction="sum")  # fmt: skip
    optimizer.pre_step()
    clipped = torch.cat([q.summed_grad.reshape(-1) for q in module.parameters()])
    factors = (0.5 / (per_sample.norm(dim=1) + 1e-6)).clamp(max=1.0)
    torch.testing.assert_close(clipped, (per_sample * factors[:, None]).sum(dim=0), rtol=1e-5, atol=1e-6)
