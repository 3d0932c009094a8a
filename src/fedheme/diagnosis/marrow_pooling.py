"""Cross-site tables of the marrow-blast classifier, from released files only: every test
site's metric rows with one pooled row per (design, model, seed, metric)
(:func:`fedheme.evaluation.pooling.pool_sites`), a summary over seeds, and the declared
model's calibration groups of P(marrow blasts >= 5%) of every test site.
"""

from __future__ import annotations

import pandas as pd

from fedheme.evaluation.pooling import pool_sites, summarise_seeds
from fedheme.evaluation.tables import CALIBRATION_COLUMNS, DIGITS, METRIC_COLUMNS

#: Keys of a row of the summary over seeds.
SUMMARY_KEYS = ["design", "strategy", "epsilon", "metric"]


def marrow_metrics(site_rows: list[pd.DataFrame], confidence: float) -> pd.DataFrame:
    """Every test site's released rows and the pooled rows, sorted and rounded."""
    rows = pd.concat(site_rows, ignore_index=True)
    table = pd.concat([rows.drop(columns="weight"), pool_sites(rows, confidence)], ignore_index=True)[METRIC_COLUMNS]
    table["note"] = table["note"].fillna("")
    table = table.round({c: DIGITS for c in ("value", "ci_low", "ci_high", "se")})
    return table.sort_values(["design", "strategy", "epsilon", "seed", "metric", "test_site"], na_position="first").reset_index(drop=True)


def marrow_summary(metrics: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """The pooled rows over seeds (mean, sd over seeds, interval adding both variances)."""
    return summarise_seeds(metrics, confidence, SUMMARY_KEYS).round({c: DIGITS for c in ("value", "sd_seeds", "ci_low", "ci_high")})


def stacked_calibration(site_groups: list[pd.DataFrame]) -> pd.DataFrame:
    """The declared model's calibration groups of every test site, stacked as released (a
    site's groups are its own quantiles of predicted risk, so group numbers do not match
    across sites and are not summed)."""
    frames = [g for g in site_groups if not g.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=CALIBRATION_COLUMNS)
