"""Federated standardisation: aggregates only, small cells suppressed, pooled = centralised."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from fedheme.features import FeatureSpec, model_features
from fedheme.fedstats import combine_aggregates, site_aggregates, standardise

SPEC = FeatureSpec(
    numeric=("age", "hb_g_dl", "plt_1e9_l", "cyto_ordinal"),
    binary=("sex_male", "mut_TP53", "mut_SF3B1", "mut_NPM1"),
    log1p=("plt_1e9_l",),
)


def test_pooled_statistics_equal_the_centralised_ones(small_sites):
    aggregates = [site_aggregates(s.cohort.patients, SPEC, s.site_id, "all", min_cell_count=1) for s in small_sites]
    stats = combine_aggregates(aggregates, SPEC)
    pooled = model_features(pd.concat([s.cohort.patients for s in small_sites]), SPEC)
    for name in SPEC.numeric:
        assert stats["features"][name]["mean"] == pytest.approx(pooled[name].mean(), rel=1e-12)
        assert stats["features"][name]["sd"] == pytest.approx(pooled[name].std(), rel=1e-9)
    for name in SPEC.binary:
        assert stats["features"][name]["mean"] == pytest.approx(pooled[name].mean(), rel=1e-12)


def test_small_cells_are_suppressed_with_their_complements(small_sites):
    patients = small_sites[0].cohort.patients.copy()
    patients["mut_NPM1"] = 0.0
    patients.loc[patients.index[:3], "mut_NPM1"] = 1.0  # 3 carriers: below 5
    patients["mut_SF3B1"] = 1.0
    patients.loc[patients.index[:2], "mut_SF3B1"] = 0.0  # 2 non-carriers: complement below 5
    agg = site_aggregates(patients, SPEC, "s1", "all", min_cell_count=5)
    assert agg["binary"]["mut_NPM1"]["n_one"] is None
    assert agg["binary"]["mut_SF3B1"]["n_one"] is None
    assert "binary.mut_NPM1.n_one" in agg["suppressed"]
    counts = agg["categorical"]["cyto_ipssr"]
    released = [v for v in counts.values() if v is not None]
    assert all(v >= 5 for v in released)
    hidden = [k for k, v in counts.items() if v is None]
    assert len(hidden) != 1, "a single hidden category could be recovered from the total"


def test_aggregates_hold_no_patient_level_value(small_sites):
    site = small_sites[0]
    text = json.dumps(site_aggregates(site.cohort.patients, SPEC, "s1", "all", 5))
    for pid in site.cohort.patients["patient_id"]:
        assert pid not in text
    assert "karyotype" not in json.loads(text)["categorical"]


def test_standardised_features_have_global_zero_mean(small_sites):
    aggregates = [site_aggregates(s.cohort.patients, SPEC, s.site_id, "all", 1) for s in small_sites]
    stats = combine_aggregates(aggregates, SPEC)
    parts = [standardise(s.cohort.patients, SPEC, stats)[0] for s in small_sites]
    pooled = pd.concat(parts)
    assert not pooled.isna().any().any()
    raw = model_features(pd.concat([s.cohort.patients for s in small_sites]), SPEC)
    observed = pooled["hb_g_dl"][raw["hb_g_dl"].notna().to_numpy()]
    assert observed.mean() == pytest.approx(0, abs=1e-9)
    assert observed.std() == pytest.approx(1, rel=1e-6)


def test_feature_no_site_releases_is_dropped(small_sites):
    aggregates = [site_aggregates(s.cohort.patients, SPEC, s.site_id, "all", 10**6) for s in small_sites]
    stats = combine_aggregates(aggregates, SPEC)
    matrix, dropped = standardise(small_sites[0].cohort.patients, SPEC, stats)
    assert set(dropped) == set(SPEC.names) and matrix.shape[1] == 0


def test_unknown_feature_is_rejected():
    with pytest.raises(ValueError, match="is not a harmonised variable"):
        FeatureSpec(numeric=("haemoglobin",), binary=())
