"""The descriptive aggregates an MDS site releases: aggregates only, small cells suppressed,
and the site overview drawn from them equals the direct computation."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from fedheme.data.features import model_features
from fedheme.data.iwgpm.aggregates import site_aggregates
from fedheme.report.overview import site_overview
from fedheme.standard.features import FeatureSpec

SPEC = FeatureSpec(
    numeric=("age", "hb_g_dl", "plt_1e9_l", "cyto_ordinal"),
    binary=("sex_male", "mut_TP53", "mut_SF3B1", "mut_NPM1"),
    log1p=("plt_1e9_l",),
)
ENDPOINTS = ("os", "lfs")


def test_the_overview_of_released_aggregates_equals_the_direct_computation(small_sites):
    aggregates = [site_aggregates(s.cohort.patients, SPEC, s.site_id, "all", min_cell_count=1, endpoints=ENDPOINTS) for s in small_sites]
    overview = site_overview(aggregates).set_index("site_id")
    for site in small_sites:
        rows = site.cohort.patients
        row = overview.loc[site.site_id]
        assert row["n"] == len(rows)
        assert row["age_mean"] == pytest.approx(rows["age"].mean(), rel=1e-12)
        assert row["age_sd"] == pytest.approx(rows["age"].std(), rel=1e-9)
        known = rows["os_status"].notna() & rows["os_years"].notna()
        assert row["os_events"] == rows.loc[known, "os_status"].sum()
        assert row["pct_missing_hb_g_dl"] == round(100 * rows["hb_g_dl"].isna().mean(), 1)
    pooled = model_features(pd.concat([s.cohort.patients for s in small_sites]), SPEC)
    total = sum(a["numeric"]["hb_g_dl"]["sum"] for a in aggregates) / sum(a["numeric"]["hb_g_dl"]["n_obs"] for a in aggregates)
    assert total == pytest.approx(pooled["hb_g_dl"].mean(), rel=1e-12)


def test_small_cells_are_suppressed_with_their_complements(small_sites):
    patients = small_sites[0].cohort.patients.copy()
    patients["mut_NPM1"] = 0.0
    patients.loc[patients.index[:3], "mut_NPM1"] = 1.0  # 3 carriers: below 5
    patients["mut_SF3B1"] = 1.0
    patients.loc[patients.index[:2], "mut_SF3B1"] = 0.0  # 2 non-carriers: complement below 5
    agg = site_aggregates(patients, SPEC, "s1", "all", min_cell_count=5, endpoints=ENDPOINTS)
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
    text = json.dumps(site_aggregates(site.cohort.patients, SPEC, "s1", "all", 5, endpoints=ENDPOINTS))
    for pid in site.cohort.patients["patient_id"]:
        assert pid not in text
    assert "karyotype" not in json.loads(text)["categorical"]


def test_missingness_that_says_who_was_transplanted_is_not_released(small_sites):
    agg = site_aggregates(small_sites[0].cohort.patients, SPEC, "s1", "all", 5, endpoints=("os",))
    assert "time_to_transplant_days" not in agg["n_missing"]
    assert "os_nh_years" not in agg["n_missing"] and "transplant" in agg["n_missing"]
    assert set(agg["endpoints"]) == {"os"}, "only the study's endpoints: no os minus os_nh difference"


def test_unknown_feature_is_rejected():
    with pytest.raises(ValueError, match="is not a harmonised variable"):
        FeatureSpec(numeric=("haemoglobin",), binary=())


def test_natural_history_counts_are_hidden_when_their_difference_would_be_a_small_cell(small_sites):
    """os and os_nh differ only by the patients transplanted: with 2 transplanted deaths the
    difference of the two released event counts would name them."""
    from fedheme.data.iwgpm.transplant import censor_at_transplant

    patients = small_sites[0].cohort.patients.copy()
    patients["transplant"], patients["time_to_transplant_days"] = 0.0, float("nan")
    died = patients.index[(patients["os_status"] == 1) & (patients["os_years"] > 1)][:2]
    patients.loc[died, ["transplant", "time_to_transplant_days"]] = [1.0, 100.0]
    patients = censor_at_transplant(patients)
    agg = site_aggregates(patients, SPEC, "s1", "all", 5, endpoints=("os", "os_nh"))
    assert agg["endpoints"]["os"]["events"] is not None
    assert agg["endpoints"]["os_nh"] == {"n_known": None, "events": None} and "endpoints.os_nh" in agg["suppressed"]
    patients.loc[patients.index[(patients["os_status"] == 1) & (patients["os_years"] > 1)][:8], ["transplant", "time_to_transplant_days"]] = [1.0, 100.0]
    agg = site_aggregates(censor_at_transplant(patients), SPEC, "s1", "all", 5, endpoints=("os", "os_nh"))
    assert agg["endpoints"]["os_nh"]["events"] == agg["endpoints"]["os"]["events"] - 8
