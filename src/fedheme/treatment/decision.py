"""Transplant policies compared by RMST: what a transplant model predicts for a patient
under "no transplant", "transplant at diagnosis" and "transplant after a delay".

For features ``x`` (standardised with the bundle's pooled statistics) and effect modifiers
``w``, a policy fixes the transplant time for every patient and so the per-bin coding
(:meth:`fedheme.treatment.coding.TransplantCoding.policy`); the model gives the survival
curve under it, and :func:`fedheme.treatment.rmst.rmst` its restricted mean. A patient who
would be transplanted after a delay is assumed alive and untransplanted until then, as in
the policy comparisons of Della Porta et al. (Leukemia 2017) and Tentori et al. (J Clin
Oncol 2024). These are observational contrasts (see the README's section on bias), not
trial results.
"""

from __future__ import annotations

import numpy as np
import torch

from fedheme.treatment.coding import TransplantCoding
from fedheme.treatment.rmst import rmst

#: The policies compared: name -> transplant time (years from diagnosis; None: never).
#: ``delayed`` takes its time from config (``treatment.transplant.delay_years``).
NEVER, AT_DIAGNOSIS, DELAYED = "never", "at_diagnosis", "delayed"


def policies(delay_years: float | None) -> dict[str, float | None]:
    """The policies compared, with the delayed one when a delay is given."""
    out: dict[str, float | None] = {NEVER: None, AT_DIAGNOSIS: 0.0}
    if delay_years:
        out[DELAYED] = float(delay_years)
    return out


def policy_survival(model, x: np.ndarray, modifiers: np.ndarray, coding: TransplantCoding, at_years: float | None) -> np.ndarray:
    """Event-free probability at the end of each bin under one policy, shape (n, K)."""
    t = coding.policy(len(x), modifiers, at_years)
    with torch.no_grad():
        return model.survival(torch.from_numpy(np.asarray(x, np.float32)), torch.from_numpy(t)).numpy().astype(float)


def policy_rmst(model, x: np.ndarray, modifiers: np.ndarray, coding: TransplantCoding, *, taus: list[float],
                delay_years: float | None) -> dict[tuple[str, float], np.ndarray]:  # fmt: skip
    """RMST (years) of each patient under each policy and restriction time.

    Returns:
        (policy, tau) -> RMST per patient, shape (n,).
    """
    out = {}
    for name, at in policies(delay_years).items():
        surv = policy_survival(model, x, modifiers, coding, at)
        for tau in taus:
            out[(name, float(tau))] = rmst(surv, coding.knots, float(tau))
    return out
