"""Helpers shared by the clinical scores: numeric columns that may be absent, and
categories from inclusive cut points."""

from __future__ import annotations

import numpy as np
import pandas as pd


def categorise(score: pd.Series, cuts: tuple[float, ...], labels: tuple[str, ...]) -> pd.Series:
    """Label each score by the first cut it does not exceed (cuts are inclusive upper bounds)."""
    codes = np.searchsorted(np.asarray(cuts), score.to_numpy(dtype=float), side="left")
    out = pd.Series(np.asarray(labels, dtype=object)[np.minimum(codes, len(labels) - 1)], index=score.index)
    return out.where(score.notna(), None)


def numeric_column(frame: pd.DataFrame, name: str) -> pd.Series:
    """A numeric column, or all-missing when the file lacks it."""
    if name in frame.columns:
        return pd.to_numeric(frame[name], errors="coerce").astype(float)
    return pd.Series(np.nan, index=frame.index)
