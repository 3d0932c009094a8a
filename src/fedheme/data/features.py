"""Model features computed from harmonised patient rows, inside a site.

A :class:`~fedheme.standard.features.FeatureSpec` (from the disease's ``features`` block
in config) lists numeric features (optionally log1p-transformed) and binary features.
Derived features exist besides the harmonised columns: ``sex_male`` (1 for M),
``cyto_ordinal`` (IPSS-R cytogenetic category as 0 = very good .. 4 = very poor) and the
IPSS-M model variables ``ipssm_tp53multi``, ``ipssm_sf3b1_5q``, ``ipssm_sf3b1_alpha``,
``ipssm_flt3`` (0/1) and ``ipssm_nres2`` (residual genes mutated, capped at 2), unknown
values at IPSS-M's published mean scenario (:func:`ipssm_features`), derived by
the same code as the IPSS-M score (:func:`fedheme.scores.mds.ipssm_variables`). The
published clippings (blasts at 20%, platelets at 250) are the config's feature bounds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fedheme.standard.features import DERIVED_FEATURE_NAMES, IPSSM_FEATURES, FeatureSpec
from fedheme.standard.mds import CYTO_IPSSR_CATEGORIES

DERIVED_FEATURES = {
    "sex_male": lambda p: (p["sex"] == "M").astype(float).where(p["sex"].notna()),
    "cyto_ordinal": lambda p: p["cyto_ipssr"].map({c: float(i) for i, c in enumerate(CYTO_IPSSR_CATEGORIES)}),
}
assert tuple(DERIVED_FEATURES) + tuple(IPSSM_FEATURES) == DERIVED_FEATURE_NAMES


def ipssm_features(patients: pd.DataFrame, names: list[str]) -> dict[str, pd.Series]:
    """The IPSS-M variables among ``names`` (see :data:`IPSSM_FEATURES`), unknown values
    at IPSS-M's published mean scenario, as the score does.

    Not the pooled frequency of known values: whether a derived variable is known depends
    on its value (SF3B1_alpha is known for an SF3B1-mutated patient only when six other
    genes were sequenced, for an unmutated one always), so the known values' frequency is
    biased; the published reference means are public constants.
    """
    if not names:
        return {}
    from fedheme.scores.mds import ipssm_betas, ipssm_variables, nres2_scenarios

    variables = ipssm_variables(patients).assign(Nres2=nres2_scenarios(patients)["mean"])
    reference = ipssm_betas()["reference_mean"]
    return {name: variables[IPSSM_FEATURES[name]].fillna(reference[IPSSM_FEATURES[name]]).astype(float) for name in names}


def model_features(patients: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """Feature matrix (n_patients x n_features, float, NaN = missing), before standardisation."""
    out = {}
    derived = ipssm_features(patients, [n for n in spec.names if n in IPSSM_FEATURES and n not in patients.columns])
    for name in spec.names:
        if name in derived:
            column = derived[name]
        else:
            column = patients[name] if name in patients.columns or name not in DERIVED_FEATURES else DERIVED_FEATURES[name](patients)
        column = pd.to_numeric(column, errors="coerce").astype(float)
        if name in spec.log1p:
            column = np.log1p(column)
        out[name] = column
    return pd.DataFrame(out, index=patients.index)
