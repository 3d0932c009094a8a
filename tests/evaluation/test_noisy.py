"""Deployment evaluation from noisy count tables: one patient in one cell, C over cells as
scikit-survival computes it on the binned cohort, n and events unbiased, intervals that
hold their estimate."""

from __future__ import annotations

import numpy as np
from sksurv.metrics import concordance_index_censored

from fedheme.evaluation.noisy import CountTable, calibration_rows, count_table, release_table, table_metric, time_bins


def cohort(n=300, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t, c = rng.exponential(np.exp(-0.8 * x) * 3), rng.uniform(0, 12, n)
    group = np.searchsorted([0.1, 0.2, 0.35, 0.5, 0.7], 1 / (1 + np.exp(-(x - 0.5))), side="right")
    return np.minimum(t, c), t <= c, group


def exact_table(n=300, seed=0):
    time, event, group = cohort(n, seed)
    bins, middles, cut = time_bins(time, [1.0, 2.0, 4.0], 8.0)
    return count_table(group, 6, bins, len(middles), event & ~cut), middles, (bins, event & ~cut, group)


def test_every_patient_sits_in_one_cell():
    table, middles, _ = exact_table()
    assert table.shape == (6, len(middles), 2) and table.sum() == 300
    assert len(middles) == 5 and middles[-1] == 8.0  # four bins to the horizon, then beyond it


def test_c_over_cells_is_harrells_c_of_the_binned_cohort():
    table, middles, (bins, event, group) = exact_table()
    value = table_metric(CountTable(table, np.arange(6.0), middles, 0.0), binary=False, B=20, confidence=0.95,
                         rng=np.random.default_rng(0))  # fmt: skip
    expected = concordance_index_censored(event, middles[bins], group.astype(float))[0]
    assert abs(value.value - expected) < 1e-12 and value.metric == "harrell_c"


def test_released_noise_has_its_sd_and_the_counts_stay_unbiased():
    table, _, _ = exact_table()
    draws = np.stack([release_table(table, 5.0, np.random.default_rng(s)) - table for s in range(200)])
    assert abs(draws.std() - 5.0) < 0.1 and abs(draws.sum(axis=(1, 2, 3)).mean()) < 0.1 * 5.0 * np.sqrt(table.size) * 200**0.5


def test_intervals_hold_their_estimate():
    table, middles, _ = exact_table()
    noisy = CountTable(release_table(table, 5.0, np.random.default_rng(1)), np.arange(6.0), middles, 5.0)
    value = table_metric(noisy, binary=False, B=100, confidence=0.95, rng=np.random.default_rng(2))
    assert value.ci_low <= value.value <= value.ci_high and np.isfinite(value.se) and value.se > 0
    rows = calibration_rows(noisy, [0.1, 0.2, 0.35, 0.5, 0.7], 2.0, binary=False, B=100, confidence=0.95, min_cell_count=5,
                            rng=np.random.default_rng(3))  # fmt: skip
    assert rows and all(r["observed_low"] <= r["observed_risk"] <= r["observed_high"] for r in rows)
    assert all(r["n"] >= 5 for r in rows)
