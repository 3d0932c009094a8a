"""Cross-site tables of the marrow-blast classifier, from released files only: every test
site's metric rows with one pooled row per (design, model, seed, metric)
(:func:`fedheme.evaluation.pooling.pool_sites`), a summary over seeds, and the declared
model's calibration groups of P(marrow blasts >= 5%) pooled over sites.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fedheme.evaluation.pooling import pool_sites, summarise_seeds
from fedheme.evaluation.tables import DIGITS, METRIC_COLUMNS

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


def pooled_calibration(site_groups: list[pd.DataFrame]) -> pd.DataFrame:
    """The declared model's calibration groups summed over sites, by decile of predicted
    risk within each site: per (model, group rank) the patients, their mean predicted and
    observed proportion (weighted by group size; released values only)."""
    groups = pd.concat(site_groups, ignore_index=True)
    if groups.empty:
        return pd.DataFrame(columns=["strategy", "epsilon", "seed", "group", "sites", "n", "predicted_risk", "observed_risk"])
    out = []
    for (strategy, epsilon, seed, group), rows in groups.groupby(["strategy", "epsilon", "seed", "group"], sort=True):
        n = rows["n"].to_numpy(dtype=float)
        out.append({"strategy": strategy, "epsilon": epsilon, "seed": seed, "group": int(group), "sites": len(rows), "n": int(n.sum()),
                    "predicted_risk": float(np.average(rows["predicted_risk"], weights=n)),
                    "observed_risk": float(np.average(rows["observed_risk"], weights=n))})  # fmt: skip
    return pd.DataFrame(out).round({"predicted_risk": DIGITS, "observed_risk": DIGITS})
