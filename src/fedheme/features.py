"""Model features computed from harmonised patient rows, inside a site.

A :class:`FeatureSpec` (from the disease's ``features`` block in config) lists numeric
features (optionally log1p-transformed) and binary features. Two derived features exist
besides the harmonised columns: ``sex_male`` (1 for M) and ``cyto_ordinal`` (IPSS-R
cytogenetic category as 0 = very good .. 4 = very poor).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fedheme.schema import CYTO_IPSSR_CATEGORIES, VARIABLES_BY_NAME

DERIVED_FEATURES = {
    "sex_male": lambda p: (p["sex"] == "M").astype(float).where(p["sex"].notna()),
    "cyto_ordinal": lambda p: p["cyto_ipssr"].map({c: float(i) for i, c in enumerate(CYTO_IPSSR_CATEGORIES)}),
}


@dataclass(frozen=True)
class FeatureSpec:
    """Which features a model sees. ``log1p`` names numeric features to log-transform."""

    numeric: tuple[str, ...]
    binary: tuple[str, ...]
    log1p: tuple[str, ...] = ()
    #: columns a tabular disease declares (empty: the MDS harmonised schema)
    declared: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        known = set(self.declared) if self.declared else set(VARIABLES_BY_NAME) | set(DERIVED_FEATURES)
        for name in self.numeric + self.binary:
            if name not in known:
                what = "a declared column" if self.declared else f"a harmonised variable or one of {sorted(DERIVED_FEATURES)}"
                raise ValueError(f"feature {name!r} is not {what}")
        stray = set(self.log1p) - set(self.numeric)
        if stray:
            raise ValueError(f"log1p features must be numeric features: {sorted(stray)}")

    @property
    def names(self) -> list[str]:
        return list(self.numeric) + list(self.binary)

    @classmethod
    def from_config(cls, cfg: dict, declared: tuple[str, ...] = ()) -> "FeatureSpec":
        return cls(tuple(cfg.get("numeric", ())), tuple(cfg.get("binary", ())), tuple(cfg.get("log1p", ())), tuple(declared))


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
