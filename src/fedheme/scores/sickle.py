"""Sickle cell disease: the transcranial Doppler rule (Adams et al., STOP trial, N Engl J
Med 1998)."""

from __future__ import annotations

import pandas as pd

from fedheme.scores.common import numeric_column


def tcd_rule(frame: pd.DataFrame) -> pd.DataFrame:
    """Sickle cell disease: transcranial Doppler time-averaged mean of the maximum velocity
    >= 200 cm/s (STOP trial threshold for stroke risk) scores 1, below 0.

    Inputs: tcd_cm_s. Returns tcd_rule_score (missing where TCD was not measured).
    """
    velocity = numeric_column(frame, "tcd_cm_s")
    return pd.DataFrame({"tcd_rule_score": (velocity >= 200).astype(float).where(velocity.notna())}, index=frame.index)
