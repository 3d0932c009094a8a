"""The IPSS-M model variables as model features: the same derivation as the score, unknown
values at the score's published mean scenario."""

from __future__ import annotations

import numpy as np
import pytest

from fedheme.data.features import model_features
from fedheme.data.iwgpm.validation import derive_tp53
from fedheme.scores.mds import ipssm_betas, ipssm_variables, nres2_scenarios
from fedheme.standard.features import IPSSM_FEATURES, FeatureSpec

SPEC = FeatureSpec(("ipssm_nres2",), ("ipssm_tp53multi", "ipssm_sf3b1_5q", "ipssm_sf3b1_alpha", "ipssm_flt3"))


@pytest.fixture(scope="module")
def patients(cohort):
    return derive_tp53(cohort.patients, cohort.variants)


def test_features_are_the_scores_own_variables(patients):
    features = model_features(patients, SPEC)
    variables = ipssm_variables(patients).assign(Nres2=nres2_scenarios(patients)["mean"])
    reference = ipssm_betas()["reference_mean"]
    for name, variable in IPSSM_FEATURES.items():
        known = variables[variable].notna()
        assert np.array_equal(features.loc[known, name], variables.loc[known, variable]), name
        assert (features.loc[~known, name] == reference[variable]).all(), name
    assert features.notna().all().all()
    # on the bundled cohort they carry signal: TP53 multi-hit in about 6% of patients
    assert 0.03 < features["ipssm_tp53multi"].mean() < 0.12


def test_unsequenced_genes_do_not_bias_a_derived_feature(patients):
    """Hide STAG2 (an SF3B1_alpha excluder) everywhere: SF3B1_alpha is then unknown for every
    SF3B1-mutated patient and known (0) for the others; the mean of known values would say
    0, the feature keeps the published mean for the unknown ones."""
    hidden = patients.assign(mut_STAG2=np.nan)
    features = model_features(hidden, SPEC)
    mutated = hidden["mut_SF3B1"] == 1
    assert (features.loc[~mutated & hidden["mut_SF3B1"].notna(), "ipssm_sf3b1_alpha"] == 0).all()
    unknown = mutated & ipssm_variables(hidden)["SF3B1_alpha"].isna()  # no other excluder known mutated
    assert unknown.sum() > 100
    assert (features.loc[unknown, "ipssm_sf3b1_alpha"] == ipssm_betas().at["SF3B1_alpha", "reference_mean"]).all()
