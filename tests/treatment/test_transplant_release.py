"""The transplant table an MDS site releases by IPSS-M category: exact counts, sensitivity 1,
small-cell suppression, the noise, pooling across sites and the job's files."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from fedheme.privacy.accounting import epsilon_of
from fedheme.privacy.ledger import RUN_LEDGER_COLUMNS, read_ledger
from fedheme.scores.mds import ipssm
from fedheme.jobs.treatment import transplant_release_job
from fedheme.treatment.pooling import pool_transplant_releases
from fedheme.treatment.release import (
    CATEGORIES,
    TRANSPLANT_TABLE,
    transplant_counts,
    transplant_mechanism,
    transplant_release,
)

RESEARCH = {"mode": "research", "randomness": "site_key"}


def frames(rows: list[tuple[str, float, str | None]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(patients, scores) from (patient_id, transplant, ipssm_category) rows."""
    patients = pd.DataFrame({"patient_id": [r[0] for r in rows], "transplant": [float(r[1]) for r in rows],
                             "time_to_transplant_days": [100.0 if r[1] == 1 else np.nan for r in rows]})  # fmt: skip
    scores = pd.DataFrame({"patient_id": [r[0] for r in rows], "ipssm_category": [r[2] for r in rows]})
    return patients, scores


def many(category: str | None, not_transplanted: int, transplanted: int, prefix: str) -> list[tuple]:
    return [(f"{prefix}{i}", 0, category) for i in range(not_transplanted)] + [
        (f"{prefix}t{i}", 1, category) for i in range(transplanted)
    ]


def row(category: str) -> int:
    return CATEGORIES.index(category)


@pytest.fixture(scope="module")
def site(cohort):
    """The first 400 patients of the bundled cohort with their IPSS-M."""
    patients = cohort.patients.iloc[:400].reset_index(drop=True)
    return patients, pd.concat([patients[["patient_id"]], ipssm(patients)], axis=1)


def test_exact_counts_leave_out_unknown_transplant_and_count_the_unclassifiable():
    patients, scores = frames([
        ("a", 0, "Low"), ("b", 1, "Low"), ("c", 1, "Low"),
        ("d", 0, "Very-High"),
        ("e", np.nan, "High"),          # transplant status unknown: not counted
        ("f", 1, None), ("g", 0, np.nan),  # no IPSS-M: not classifiable
    ])  # fmt: skip
    table = transplant_counts(patients, scores)
    assert table.shape == (7, 2) and CATEGORIES[-1] == "not classifiable"
    expected = np.zeros((7, 2), dtype=int)
    expected[row("Low")] = [1, 2]
    expected[row("Very-High")] = [1, 0]
    expected[row("not classifiable")] = [1, 1]
    np.testing.assert_array_equal(table, expected)
    assert table.sum() == 6  # every patient with a known status, once


def test_counts_on_the_cohort_match_a_crosstab(site):
    patients, scores = site
    table = transplant_counts(patients, scores)
    known = patients["transplant"].notna()
    assert table.sum() == known.sum() and table[:, 1].sum() == int(patients["transplant"].sum())
    merged = patients[["patient_id", "transplant"]].merge(scores[["patient_id", "ipssm_category"]], on="patient_id")
    for category in CATEGORIES[:-1]:
        in_category = merged[merged["ipssm_category"] == category]
        assert table[row(category), 1] == int((in_category["transplant"] == 1).sum())


def test_one_more_patient_changes_exactly_one_cell_by_one(site):
    patients, scores = site
    before = transplant_counts(patients, scores)
    for transplant, category in [(1, "High"), (0, "Low"), (1, None)]:
        extra_p, extra_s = frames([("new-patient", transplant, category)])
        after = transplant_counts(pd.concat([patients, extra_p], ignore_index=True),
                                  pd.concat([scores, extra_s], ignore_index=True))  # fmt: skip
        diff = after - before
        assert np.abs(diff).sum() == 1 and np.sqrt((diff**2).sum()) == 1.0  # L2 sensitivity 1
        assert diff[row(category or "not classifiable"), transplant] == 1


def test_a_patient_missing_from_the_scores_is_an_error_that_names_no_one():
    patients, scores = frames([("secret-id-1", 0, "Low"), ("secret-id-2", 1, "High")])
    with pytest.raises(ValueError, match="1 patients have no row") as err:
        transplant_counts(patients, scores.iloc[:1])
    assert "secret-id" not in str(err.value)


def test_small_cells_are_hidden_with_whatever_would_give_them_back():
    rows = many("Low", 20, 3, "l") + many("High", 15, 9, "h") + many("Very-High", 30, 12, "v") + many(None, 6, 0, "n")
    patients, scores = frames(rows)
    release = transplant_release(patients, scores, site_id="s1", noise_multiplier=0, min_cell_count=5,
                                 rng=np.random.default_rng(0))  # fmt: skip
    cells = release["cells"]
    assert release["exact"] is True
    # 3 transplanted in Low is small; 20 would give it back from Low's size: both hidden
    assert cells["Low"] == {"not_transplanted": None, "transplanted": None}
    # one hidden category would be the site's totals minus the rest: the smallest other one
    # holding patients (not classifiable, 6) is hidden too
    assert cells["not classifiable"] == {"not_transplanted": None, "transplanted": None}
    assert cells["High"] == {"not_transplanted": 15, "transplanted": 9}
    assert cells["Very-Low"] == {"not_transplanted": 0, "transplanted": 0}  # 0 is not a small cell
    assert set(release["suppressed"]) == {f"{c}.{col}" for c in ("Low", "not classifiable")
                                          for col in ("not_transplanted", "transplanted")}  # fmt: skip
    assert "total" not in str(release["cells"])  # no totals released


def test_noisy_cells_are_released_whole_so_sums_over_sites_stay_unbiased():
    patients, scores = frames(many("Low", 200, 40, "l") + many("High", 3, 1, "h"))
    release = transplant_release(patients, scores, site_id="s1", noise_multiplier=1.0, min_cell_count=5,
                                 rng=np.random.default_rng(3))  # fmt: skip
    assert release["suppressed"] == []
    assert all(isinstance(v, int) for cell in release["cells"].values() for v in cell.values())
    # over many draws the released cell averages the exact one: no clipping, no hiding
    draws = [transplant_release(patients, scores, site_id="s1", noise_multiplier=3.0, min_cell_count=5,
                                rng=np.random.default_rng(seed))["cells"]["High"]["transplanted"] for seed in range(400)]  # fmt: skip
    assert abs(np.mean(draws) - 1.0) < 0.5 and min(draws) < 0


def test_noise_is_reproducible_per_seed_and_differs_from_exact(site):
    patients, scores = site

    def released(noise: float, seed: int) -> dict:
        return transplant_release(patients, scores, site_id="s1", noise_multiplier=noise, min_cell_count=1,
                                  rng=np.random.default_rng(seed))["cells"]  # fmt: skip

    exact, first, again, other = released(0.0, 1), released(8.0, 1), released(8.0, 1), released(8.0, 2)
    assert first == again
    assert first != exact and first != other
    values = [v for cell in first.values() for v in cell.values()]
    assert all(isinstance(v, int) for v in values)  # rounded
    table = transplant_counts(patients, scores)
    assert exact == {c: {"not_transplanted": int(a), "transplanted": int(b)} for c, (a, b) in zip(CATEGORIES, table)}


def test_the_mechanism_is_one_gaussian_step_and_none_when_exact():
    noisy, exact = transplant_mechanism(4.0), transplant_mechanism(0.0)
    assert (noisy.name, noisy.noise_multiplier, noisy.sample_rate, noisy.steps) == (TRANSPLANT_TABLE, 4.0, 1.0, 1)
    assert noisy.release == "transplant_by_ipssm" and exact.steps == 0
    assert 0 < epsilon_of([noisy], 1e-5) < math.inf


def test_the_pooled_table_sums_released_cells_and_names_suppressed_sites():
    def release(site_id: str, cells: dict) -> dict:
        full = {c: {"not_transplanted": 0, "transplanted": 0} for c in CATEGORIES}
        return {"site_id": site_id, "categories": list(CATEGORIES), "columns": ["not_transplanted", "transplanted"],
                "cells": {**full, **cells}}  # fmt: skip

    releases = [
        release("a", {"Low": {"not_transplanted": 30, "transplanted": 10}, "High": {"not_transplanted": 8, "transplanted": 12}}),
        release("b", {"Low": {"not_transplanted": 50, "transplanted": 10}, "High": {"not_transplanted": None, "transplanted": None}}),
        release("c", {"Low": {"not_transplanted": 20, "transplanted": None}, "High": {"not_transplanted": 20, "transplanted": 20}}),
    ]
    pooled = pool_transplant_releases(releases).set_index("category")
    assert list(pooled.index) == list(CATEGORIES)
    low, high = pooled.loc["Low"], pooled.loc["High"]
    assert (low["sites"], low["sites_suppressed"], low["patients"], low["transplanted"]) == (2, 1, 100, 20)
    assert low["fraction_transplanted"] == pytest.approx(0.2)
    assert "1 sites' cells suppressed" in low["note"] and "other 2 sites" in low["note"]
    assert (high["sites"], high["patients"], high["transplanted"]) == (2, 60, 32)
    assert pooled.loc["Very-Low", "note"] == "" and math.isnan(pooled.loc["Very-Low", "fraction_transplanted"])


def write_site(tmp_path, rows):
    private = tmp_path / "results" / "mds" / "sites" / "s1" / "private"
    private.mkdir(parents=True)
    patients, scores = frames(rows)
    patients.to_parquet(private / "patients.parquet")
    scores.to_parquet(private / "scores.parquet")
    shared = private.parent / "shared"
    return {"patients": private / "patients.parquet", "scores": private / "scores.parquet",
            "out_release": shared / "transplant_by_ipssm.json", "out_ledger": shared / "transplant_by_ipssm_ledger.tsv"}  # fmt: skip


def test_the_job_writes_nothing_when_the_scores_miss_a_patient(tmp_path):
    paths = write_site(tmp_path, many("Low", 10, 5, "l"))
    scores = pd.read_parquet(paths["scores"])
    scores.iloc[1:].to_parquet(paths["scores"])
    with pytest.raises(ValueError, match="1 patients have no row"):
        transplant_release_job(**paths, site_id="s1", noise_multiplier=2.0, min_cell_count=5, delta=1e-5, privacy=RESEARCH)
    assert not paths["out_release"].exists() and not paths["out_ledger"].exists()
    assert not paths["out_release"].parent.exists()


def test_the_job_release_and_ledger(tmp_path):
    import json

    paths = write_site(tmp_path, many("Low", 40, 10, "l") + many("High", 30, 20, "h"))
    transplant_release_job(**paths, site_id="s1", noise_multiplier=2.0, min_cell_count=5, delta=1e-5, privacy=RESEARCH)
    release = json.loads(paths["out_release"].read_text())
    assert release["site_id"] == "s1" and release["exact"] is False and release["noise_multiplier"] == 2.0
    ledger = read_ledger(paths["out_ledger"])
    assert list(ledger.columns) == RUN_LEDGER_COLUMNS and len(ledger) == 1
    entry, mechanism = ledger.iloc[0], transplant_mechanism(2.0)
    assert entry["noise_multiplier"] == mechanism.noise_multiplier and entry["steps"] == mechanism.steps == 1
    assert (entry["run"], entry["strategy"], entry["mechanism"], entry["release"]) == (
        "transplant_release", "release", TRANSPLANT_TABLE, "transplant_by_ipssm")
    assert entry["epsilon"] == pytest.approx(epsilon_of([mechanism], 1e-5))
    first = paths["out_release"].read_text()
    transplant_release_job(**paths, site_id="s1", noise_multiplier=2.0, min_cell_count=5, delta=1e-5, privacy=RESEARCH)
    assert paths["out_release"].read_text() == first  # same key, same rows: the same draw, nothing new released


def test_an_exact_job_is_listed_as_non_private(tmp_path):
    paths = write_site(tmp_path, many("Low", 40, 10, "l"))
    transplant_release_job(**paths, site_id="s1", noise_multiplier=0.0, min_cell_count=5, delta=1e-5, privacy=RESEARCH)
    entry = read_ledger(paths["out_ledger"]).iloc[0]
    assert entry["noise_multiplier"] == 0 and entry["steps"] == 0 and math.isinf(entry["epsilon"])
    assert entry["note"] == "exact release (research mode)"


def test_deployment_refuses_an_exact_release(tmp_path):
    paths = write_site(tmp_path, many("Low", 40, 10, "l"))
    deployment = {"mode": "deployment", "randomness": "site_key", "study_epsilon": 10.0}
    with pytest.raises(ValueError, match="nothing exact"):
        transplant_release_job(**paths, site_id="s1", noise_multiplier=0.0, min_cell_count=5, delta=1e-5, privacy=deployment)
    assert not paths["out_release"].exists()


def test_deployment_charges_the_release_once(tmp_path):
    paths = write_site(tmp_path, many("Low", 40, 10, "l"))
    deployment = {"mode": "deployment", "randomness": "site_key", "study_epsilon": 10.0}
    for _ in range(2):  # a rerun on the same rows draws the same noise: charged once
        transplant_release_job(**paths, site_id="s1", noise_multiplier=3.0, min_cell_count=5, delta=1e-5, privacy=deployment)
    budget = pd.read_csv(paths["patients"].parent / "budget.tsv", sep="\t")
    assert len(budget) == 1 and budget.loc[0, "name"] == TRANSPLANT_TABLE and budget.loc[0, "noise_multiplier"] == 3.0


def test_another_noise_multiplier_draws_fresh_noise_not_the_same_draw_scaled(tmp_path):
    """Two releases r = c + sigma z with one z would give c = (s2 r1 - s1 r2) / (s2 - s1):
    the multiplier is part of the draw's identity."""
    import json

    paths = write_site(tmp_path, many("Low", 400, 80, "l") + many("High", 300, 120, "h"))
    exact = transplant_counts(pd.read_parquet(paths["patients"]), pd.read_parquet(paths["scores"])).astype(float)
    draws = {}
    for sigma in (2.0, 4.0):
        transplant_release_job(**paths, site_id="s1", noise_multiplier=sigma, min_cell_count=5, delta=1e-5, privacy=RESEARCH)
        cells = json.loads(paths["out_release"].read_text())["cells"]
        released = np.array([[cells[c]["not_transplanted"], cells[c]["transplanted"]] for c in CATEGORIES], dtype=float)
        draws[sigma] = (released - exact) / sigma  # the standard normal draws, up to rounding
    assert np.abs(draws[2.0] - draws[4.0]).max() > 0.5
    solved = (4.0 * (exact + 2.0 * draws[2.0]) - 2.0 * (exact + 4.0 * draws[4.0])) / 2.0
    assert np.abs(solved - exact).max() > 1.0  # the counts cannot be solved for
