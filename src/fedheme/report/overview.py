"""Site-level overview table, built from released aggregates only (safe to share)."""

from __future__ import annotations

import math

import pandas as pd

from fedheme.standard.mds import CLINICAL_VARIABLES


def _mean_sd(cell: dict | None) -> tuple[float | None, float | None]:
    if not cell or cell.get("n_obs") in (None, 0):
        return None, None
    n, total, total_sq = cell["n_obs"], cell["sum"], cell["sum_sq"]
    mean = total / n
    sd = math.sqrt(max(total_sq - n * mean**2, 0.0) / (n - 1)) if n > 1 else None
    return mean, sd


def _rate(cell: dict) -> float | None:
    if cell["events"] is None or not cell["n_known"]:
        return None
    return cell["events"] / cell["n_known"]


def site_overview(aggregates: list[dict]) -> pd.DataFrame:
    """One row per site: size, mean and sd of age, event counts and rates, missingness.

    Suppressed cells stay missing (NA) rather than being guessed.
    """
    rows = []
    for agg in sorted(aggregates, key=lambda a: a["site_id"]):
        row = {"site_id": agg["site_id"], "subset": agg["subset"], "n": agg["n"]}
        row["age_mean"], row["age_sd"] = _mean_sd(agg["numeric"].get("age"))
        for endpoint, cell in agg["endpoints"].items():
            row[f"{endpoint}_known"] = cell["n_known"]
            row[f"{endpoint}_events"] = cell["events"]
            row[f"{endpoint}_event_rate"] = _rate(cell)
        genes = [k for k in agg["n_missing"] if k.startswith("mut_")]
        n = agg["n"]
        row["genes_sequenced"] = sum(1 for g in genes if n is not None and agg["n_missing"][g] < n)
        for var in CLINICAL_VARIABLES:
            if var.kind in ("numeric", "time") and n:
                row[f"pct_missing_{var.name}"] = round(100 * agg["n_missing"][var.name] / n, 1)
        rows.append(row)
    return pd.DataFrame(rows)
