"""The ``cox`` baseline: a Cox model fitted by lifelines on the pooled training sites.

Non-private (research mode only, like ``pooled``): all training patients of a fold as one
data set, follow-up censored at the horizon as in the logistic-hazard model, the same
standardised and imputed features (those constant over the training sites left out), and
a small fixed ridge penalty (``PENALIZER``), fixed before any test site is seen; only if
lifelines does not converge (tiny or separated data) is it refitted with a 10 or 100 times
stronger penalty, with a warning in the job's log. Its coefficients and baseline survival at the federation's
bin ends fill a :class:`fedheme.models.cox.CoxNet`.

For a categorical endpoint the reference is scikit-learn's multinomial logistic regression
(:func:`fit_multinomial`), on the same design matrix.

References: Davidson-Pilon C. lifelines: survival analysis in Python. JOSS 2019;4:1317.
Pedregosa F, et al. Scikit-learn: machine learning in Python. JMLR 2011;12:2825-30.
"""

from __future__ import annotations

import logging

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

    from lifelines.exceptions import ConvergenceError

    x = design.x.astype(float)
    names = [f"x{j}" for j in range(x.shape[1])]
    # a feature constant over the pooled training sites (a gene nobody carries at a small
    # site) has no coefficient to estimate: it is left out, with beta 0
    varying = [n for n, sd in zip(names, x.std(axis=0)) if sd > 1e-8]
    frame = pd.DataFrame(x, columns=names)[varying]
    frame["time"] = np.minimum(design.time, horizon)
    frame["event"] = (design.status.astype(bool) & (design.time < horizon)).astype(int)
    for penalizer in (PENALIZER, 10 * PENALIZER, 100 * PENALIZER):
        try:
            fitter = CoxPHFitter(penalizer=penalizer).fit(frame, duration_col="time", event_col="event")
            break
        except ConvergenceError:  # tiny or separated data: a stronger ridge, said in the log
            logging.getLogger("fedheme").warning("Cox reference did not converge with penalizer %g; retrying stronger", penalizer)
    else:
        raise RuntimeError(f"the Cox reference did not converge on {len(frame)} patients, even with penalizer {penalizer:g}")
    beta = fitter.params_.reindex(names).fillna(0.0).to_numpy()
    zero = pd.DataFrame(np.zeros((1, len(varying))), columns=varying)
    baseline = fitter.predict_survival_function(zero, times=list(bin_ends)).to_numpy()[:, 0]
    return {"risk_net.weight": torch.tensor(beta[None, :], dtype=torch.float32),
            "baseline_survival": torch.tensor(baseline, dtype=torch.float32)}  # fmt: skip


def fit_cox_time_varying(design: DesignMatrix, knots: np.ndarray) -> dict:
    """lifelines' time-varying Cox model (``CoxTimeVaryingFitter``) of the transplant study,
    on the pooled training sites: each patient's follow-up split at the bins of the
    transplant coding (start, stop, the bin's coding ``t_ik`` as time-varying covariates,
    the features as fixed ones), so its transplant terms are log hazard ratios on exactly the
    coding of the federated logistic-hazard model (its log odds ratios per bin). Same ridge
    penalty as :func:`fit_cox`.

    Args:
        design: pooled design matrix with ``treatment`` (n, K, D).
        knots: 0, the coding's interior edges and its horizon, shape (K + 1,).

    Returns:
        ``treatment.weight`` (1, D) and ``risk_net.weight`` (1, p) as tensors.
    """
    import torch
    from lifelines import CoxTimeVaryingFitter

    x, t = design.x.astype(float), design.treatment.astype(float)
    n, K, D = t.shape
    time = np.minimum(design.time, knots[-1])
    event = design.status.astype(bool) & (design.time < knots[-1])
    x_names, t_names = [f"x{j}" for j in range(x.shape[1])], [f"t{d}" for d in range(D)]
    rows = []
    for i in range(n):
        for k in range(int(design.bin_index[i]) + 1):
            start, stop = knots[k], min(knots[k + 1], time[i])
            if stop <= start:  # follow-up ends on the bin's edge
                continue
            last = k == design.bin_index[i]
            rows.append([i, start, stop, int(last and event[i]), *x[i], *t[i, k]])
    frame = pd.DataFrame(rows, columns=["id", "start", "stop", "event", *x_names, *t_names])
    varying = [c for c in x_names + t_names if frame[c].std() > 1e-8]
    fitter = CoxTimeVaryingFitter(penalizer=PENALIZER).fit(frame[["id", "start", "stop", "event", *varying]], id_col="id",
                                                           start_col="start", stop_col="stop", event_col="event")  # fmt: skip
    params = fitter.params_
    return {"risk_net.weight": torch.tensor(params.reindex(x_names).fillna(0.0).to_numpy()[None, :], dtype=torch.float32),
            "treatment.weight": torch.tensor(params.reindex(t_names).fillna(0.0).to_numpy()[None, :], dtype=torch.float32)}  # fmt: skip


#: Inverse L2 penalty of scikit-learn's LogisticRegression (its default), fixed before any test site is seen.
LOGISTIC_C = 1.0


def fit_multinomial(design: DesignMatrix, n_classes: int) -> dict:
    """scikit-learn's multinomial logistic regression (lbfgs, L2 penalty ``LOGISTIC_C``) of the
    class in ``design.bin_index`` on ``design.x``; returns the state dict of a
    :class:`fedheme.models.networks.LinearSoftmaxNet`: ``baseline.weight`` (C, 1), the
    intercepts, and ``risk_net.weight`` (C, p). A class absent from the training sites keeps
    logit -inf's stand-in (-30) and zero coefficients."""
    import torch
    from sklearn.linear_model import LogisticRegression

    y = design.bin_index.astype(int)
    fitter = LogisticRegression(C=LOGISTIC_C, max_iter=5000).fit(design.x.astype(float), y)
    intercept = np.full(n_classes, -30.0)
    coef = np.zeros((n_classes, design.x.shape[1]))
    intercept[fitter.classes_], coef[fitter.classes_] = fitter.intercept_, fitter.coef_
    if len(fitter.classes_) == 2:  # scikit-learn fits one logit for two classes: the first class's is 0
        intercept[fitter.classes_[0]], coef[fitter.classes_[0]] = 0.0, 0.0
        intercept[fitter.classes_[1]], coef[fitter.classes_[1]] = fitter.intercept_[0], fitter.coef_[0]
    return {"baseline.weight": torch.tensor(intercept[:, None], dtype=torch.float32),
            "risk_net.weight": torch.tensor(coef, dtype=torch.float32)}  # fmt: skip
