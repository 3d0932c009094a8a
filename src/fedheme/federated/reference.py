"""The ``cox`` baseline: a Cox model fitted by lifelines on the pooled training sites.

Non-private (research mode only, like ``pooled``): all training patients of a fold as one
data set, follow-up censored at the horizon as in the logistic-hazard model, the same
standardised and imputed features, and a small fixed ridge penalty (``PENALIZER``), fixed
before any test site is seen. Its coefficients and baseline survival at the federation's
bin ends fill a :class:`fedheme.models.cox.CoxNet`.

Reference: Davidson-Pilon C. lifelines: survival analysis in Python. JOSS 2019;4:1317.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fedheme.federated.design import DesignMatrix

#: L2 penalty of lifelines' CoxPHFitter (``penalizer``, with ``l1_ratio`` 0).
PENALIZER = 0.01


def fit_cox(design: DesignMatrix, bin_ends: list[float], horizon: float) -> dict:
    """Fit the Cox model; returns the state dict of a CoxNet (``risk_net.weight`` (1, p),
    ``baseline_survival`` (K,): survival at ``bin_ends`` of a patient with x = 0)."""
    import torch
    from lifelines import CoxPHFitter

    x = design.x.astype(float)
    names = [f"x{j}" for j in range(x.shape[1])]
    frame = pd.DataFrame(x, columns=names)
    frame["time"] = np.minimum(design.time, horizon)
    frame["event"] = (design.status.astype(bool) & (design.time < horizon)).astype(int)
    fitter = CoxPHFitter(penalizer=PENALIZER).fit(frame, duration_col="time", event_col="event")
    beta = fitter.params_.reindex(names).to_numpy()
    zero = pd.DataFrame(np.zeros((1, len(names))), columns=names)
    baseline = fitter.predict_survival_function(zero, times=list(bin_ends)).to_numpy()[:, 0]
    return {"risk_net.weight": torch.tensor(beta[None, :], dtype=torch.float32),
            "baseline_survival": torch.tensor(baseline, dtype=torch.float32)}  # fmt: skip
