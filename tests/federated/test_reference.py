"""The ``cox`` reference: lifelines' Cox model on the pooled training sites, carried in the
bundle as a CoxNet whose risk and survival are lifelines' own predictions."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch
from lifelines import CoxPHFitter

from fedheme.federated.design import DesignMatrix
from fedheme.federated.reference import PENALIZER, fit_cox
from fedheme.models.cox import CoxNet


def simulated_design(n=800, seed=0) -> DesignMatrix:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    t = rng.exponential(np.exp(-(x @ np.array([0.8, -0.5, 0.0]))) * 4)
    c = rng.uniform(0, 15, n)
    time, status = np.minimum(t, c), (t <= c).astype(float)
    return DesignMatrix(x, np.zeros(n, int), status, time, status, np.arange(n).astype(str))


def test_the_cox_reference_predicts_what_lifelines_predicts():
    design, ends, horizon = simulated_design(), [1.0, 2.0, 4.0, 10.0], 10.0
    net = CoxNet(3, len(ends))
    net.load_state_dict(fit_cox(design, ends, horizon))
    beta = net.risk_net.weight.detach().numpy()[0]
    assert np.allclose(beta, [0.8, -0.5, 0.0], atol=0.12), beta  # the simulated truth
    frame = pd.DataFrame(design.x.astype(float), columns=["a", "b", "c"]).assign(
        time=np.minimum(design.time, horizon), event=(design.status.astype(bool) & (design.time < horizon)).astype(int))
    fitter = CoxPHFitter(penalizer=PENALIZER).fit(frame, duration_col="time", event_col="event")
    rows = frame[["a", "b", "c"]].head(20)
    expected = fitter.predict_survival_function(rows, times=ends).to_numpy().T
    with torch.no_grad():
        ours = net.survival(torch.from_numpy(design.x[:20])).numpy()
        risk = net.risk(torch.from_numpy(design.x[:20])).numpy()
    assert np.allclose(ours, expected, atol=1e-4)
    assert np.allclose(risk - risk[0], np.log(fitter.predict_partial_hazard(rows)).to_numpy() - math.log(fitter.predict_partial_hazard(rows.head(1)).iloc[0]), atol=1e-4)


def test_a_feature_constant_over_the_training_sites_gets_beta_zero():
    design = simulated_design(300, 1)
    design.x[:, 2] = 0.0  # nobody carries it
    weights = fit_cox(design, [1.0, 2.0, 10.0], 10.0)
    beta = weights["risk_net.weight"].numpy()[0]
    assert beta[2] == 0.0 and np.isfinite(beta).all() and abs(beta[0]) > 0.3
