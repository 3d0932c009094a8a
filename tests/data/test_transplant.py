"""Allogeneic transplant: its date checked against the record, and the natural-history
endpoints (OS and LFS censored at transplant) derived from it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fedheme.data.iwgpm.transplant import censor_at_transplant, reconcile_release_dates, transplant_problems
from fedheme.data.iwgpm.validation import read_site_export
from fedheme.standard.mds import DAYS_PER_YEAR


def frame(rows):
    columns = ["patient_id", "transplant", "time_to_transplant_days", "os_years", "os_status", "lfs_years", "lfs_status"]
    return pd.DataFrame(rows, columns=columns).astype({c: float for c in columns[1:]})


def test_natural_history_censors_at_transplant_only_when_it_comes_first():
    rows = frame([
        ("never", 0, np.nan, 5.0, 1, 3.0, 1),              # not transplanted: unchanged
        ("before", 1, 365.25, 5.0, 1, 3.0, 1),             # transplant at 1 y: censored at 1 y
        ("aml_first", 1, 2 * 365.25, 5.0, 0, 0.5, 1),      # AML at 0.5 y, transplant at 2 y
        ("undated", 1, np.nan, 5.0, 1, 3.0, 1),            # unknown date: no natural history
        ("unknown", np.nan, np.nan, 4.0, 0, 4.0, 0),       # transplant not recorded: unchanged
    ])  # fmt: skip
    nh = censor_at_transplant(rows).set_index("patient_id")
    assert nh.loc["never", ["os_nh_years", "os_nh_status"]].tolist() == [5.0, 1.0]
    assert nh.loc["before", ["os_nh_years", "os_nh_status", "lfs_nh_years", "lfs_nh_status"]].tolist() == [1.0, 0.0, 1.0, 0.0]
    assert nh.loc["aml_first", ["os_nh_years", "os_nh_status"]].tolist() == [2.0, 0.0]
    assert nh.loc["aml_first", ["lfs_nh_years", "lfs_nh_status"]].tolist() == [0.5, 1.0]
    assert nh.loc["undated", ["os_nh_years", "os_nh_status", "lfs_nh_years"]].isna().all()
    assert nh.loc["unknown", ["os_nh_years", "os_nh_status"]].tolist() == [4.0, 0.0]
    assert nh["os_nh_years"].dtype == np.float64


def test_dates_that_contradict_the_record_are_found():
    rows = frame([
        ("ok", 1, 100, 1.0, 1, 1.0, 1),
        ("same_day", 1, 365, 1.0, 1, 1.0, 1),        # transplant on the last day of follow-up
        ("after", 1, 800, 1.0, 0, 1.0, 0),
        ("not_transplanted", 0, 10, 1.0, 0, 1.0, 0),
    ])  # fmt: skip
    problems = transplant_problems(rows)
    assert sorted(problems["index"]) == [2, 3]
    assert set(problems["column"]) == {"time_to_transplant_days"}


def test_the_bundled_release_keeps_every_patient_and_drops_five_contradicting_dates(cohort):
    patients = cohort.patients
    assert len(patients) == 2957 and int(patients["transplant"].sum()) == 270
    assert len(cohort.notes) == 5
    dated = patients["time_to_transplant_days"].notna()
    assert int(dated.sum()) == 255 and (patients.loc[dated, "transplant"] == 1).all()
    assert transplant_problems(patients).empty
    again, notes = reconcile_release_dates(patients)
    assert notes == [] and again.equals(patients)


@pytest.mark.parametrize("dialect_name", ["eu_semicolon", "us_csv", "registry_latin1", "iwgpm", "fedheme"])
def test_every_dialect_carries_the_transplant_date_to_the_natural_history(small_sites, write_export, dialect_name):
    patients_path, variants_path, dialect = write_export(dialect_name)
    export = read_site_export(patients_path, dialect, variants_path)
    site = small_sites[0].cohort.patients.set_index("patient_id")
    read = export.patients.set_index("patient_id").loc[site.index]
    pd.testing.assert_series_equal(read["time_to_transplant_days"], site["time_to_transplant_days"], check_names=False)
    censored = (site["transplant"] == 1) & (site["time_to_transplant_days"] / DAYS_PER_YEAR < site["os_years"])
    assert censored.any(), "the test site should have transplanted patients"
    assert (read.loc[censored, "os_nh_status"] == 0).all()
    assert np.allclose(read.loc[censored, "os_nh_years"], site.loc[censored, "time_to_transplant_days"] / DAYS_PER_YEAR)
    untouched = site["transplant"] == 0
    assert read.loc[untouched, "os_nh_years"].equals(read.loc[untouched, "os_years"])
