"""Multiple myeloma staging: ISS (Greipp et al., J Clin Oncol 2005), R-ISS (Palumbo et al.,
J Clin Oncol 2015) and R2-ISS (D'Agostino et al., J Clin Oncol 2022). Definitions:
``shared/reference/clinical_scores.md`` of the project (summarised in each docstring)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fedheme.scores.common import categorise, numeric_column

ISS_CATEGORIES = ("I", "II", "III")
R2ISS_CATEGORIES = ("I", "II", "III", "IV")


def iss(frame: pd.DataFrame) -> pd.DataFrame:
    """ISS: I = beta2-microglobulin < 3.5 mg/L and albumin >= 3.5 g/dL; III = B2M >= 5.5; else II.

    Inputs: b2m_mg_l, albumin_g_dl. Returns columns iss_stage (1-3), iss_category.
    """
    b2m, albumin = numeric_column(frame, "b2m_mg_l"), numeric_column(frame, "albumin_g_dl")
    stage = pd.Series(np.nan, index=frame.index)
    stage[b2m >= 5.5] = 3.0
    stage[(b2m < 5.5) & ((b2m >= 3.5) | (albumin < 3.5))] = 2.0
    stage[(b2m < 3.5) & (albumin >= 3.5)] = 1.0
    return pd.DataFrame({"iss_stage": stage, "iss_category": _stage_labels(stage, ISS_CATEGORIES)}, index=frame.index)


def _stage_labels(stage: pd.Series, labels: tuple[str, ...]) -> pd.Series:
    return stage.map(lambda s: labels[int(s) - 1] if pd.notna(s) else None)


def _high_ldh(frame: pd.DataFrame) -> pd.Series:
    """LDH above the upper limit of normal: ``ldh_high`` (0/1), or ldh_u_l > ldh_uln_u_l."""
    if "ldh_high" in frame.columns:
        return numeric_column(frame, "ldh_high")
    ldh, uln = numeric_column(frame, "ldh_u_l"), numeric_column(frame, "ldh_uln_u_l")
    return (ldh > uln).astype(float).where(ldh.notna() & uln.notna())


def riss(frame: pd.DataFrame) -> pd.DataFrame:
    """R-ISS: I = ISS I, no high-risk cytogenetics (del(17p), t(4;14), t(14;16)) and normal LDH;
    III = ISS III with high-risk cytogenetics or high LDH; II = all others.

    Inputs: ISS inputs, del17p, t_4_14, t_14_16 (0/1), ldh_high or ldh_u_l with ldh_uln_u_l.
    Returns columns riss_stage, riss_category (missing where the inputs cannot decide).
    """
    stage_iss = iss(frame)["iss_stage"]
    cyto = pd.concat([numeric_column(frame, c) for c in ("del17p", "t_4_14", "t_14_16")], axis=1)
    high_cyto = (cyto == 1).any(axis=1)
    standard_cyto = (cyto == 0).all(axis=1)
    ldh = _high_ldh(frame)
    stage = pd.Series(np.nan, index=frame.index)
    stage[(stage_iss == 2) | ((stage_iss == 1) & (high_cyto | (ldh == 1))) | ((stage_iss == 3) & standard_cyto & (ldh == 0))] = 2.0
    stage[(stage_iss == 1) & standard_cyto & (ldh == 0)] = 1.0
    stage[(stage_iss == 3) & (high_cyto | (ldh == 1))] = 3.0
    return pd.DataFrame({"riss_stage": stage, "riss_category": _stage_labels(stage, ISS_CATEGORIES)}, index=frame.index)


def r2iss(frame: pd.DataFrame) -> pd.DataFrame:
    """R2-ISS: points ISS II 1, ISS III 1.5, del(17p) 1, high LDH 1, t(4;14) 1, 1q gain 0.5;
    groups I = 0, II = 0.5-1, III = 1.5-2.5, IV = 3-5.

    Inputs: ISS inputs, del17p, t_4_14, gain_1q (0/1), ldh_high or ldh_u_l with ldh_uln_u_l.
    Returns columns r2iss_score, r2iss_category.
    """
    stage_iss = iss(frame)["iss_stage"]
    score = (
        stage_iss.map({1.0: 0.0, 2.0: 1.0, 3.0: 1.5})
        + numeric_column(frame, "del17p")
        + _high_ldh(frame)
        + numeric_column(frame, "t_4_14")
        + 0.5 * numeric_column(frame, "gain_1q")
    )
    category = categorise(score, (0.0, 1.0, 2.5), R2ISS_CATEGORIES)
    return pd.DataFrame({"r2iss_score": score, "r2iss_category": category}, index=frame.index)
