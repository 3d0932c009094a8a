"""Model features computed from harmonised patient rows, inside a site.

A :class:`~fedheme.standard.features.FeatureSpec` (from the disease's ``features`` block
in config) lists numeric features (optionally log1p-transformed) and binary features. Two
derived features exist
besides the harmonised columns: ``sex_male`` (1 for M) and ``cyto_ordinal`` (IPSS-R
cytogenetic category as 0 = very good .. 4 = very poor).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fedheme.standard.features import DERIVED_FEATURE_NAMES, FeatureSpec
from fedheme.standard.mds import CYTO_IPSSR_CATEGORIES

DERIVED_FEATURES = {
    "sex_male": lambda p: (p["sex"] == "M").astype(float).where(p["sex"].notna()),
    "cyto_ordinal": lambda p: p["cyto_ipssr"].map({c: float(i) for i, c in enumerate(CYTO_IPSSR_CATEGORIES)}),
}
assert tuple(DERIVED_FEATURES) == DERIVED_FEATURE_NAMES


def model_features(patients: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """Feature matrix (n_patients x n_features, float, NaN = missing), before standardisation."""
    out = {}
    for name in spec.names:
        column = patients[name] if name in patients.columns or name not in DERIVED_FEATURES else DERIVED_FEATURES[name](patients)
        column = pd.to_numeric(column, errors="coerce").astype(float)
        if name in spec.log1p:
            column = np.log1p(column)
        out[name] = column
    return pd.DataFrame(out, index=patients.index)
