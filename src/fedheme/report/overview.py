"""Site-level overview table, built from released aggregates only (safe to share).

In ``research`` mode sites release descriptive aggregates with small-cell suppression
(:mod:`fedheme.data.iwgpm.aggregates`); in ``deployment`` mode the overview is drawn from
each site's DP training release instead (:func:`aggregates_from_release`): no exact count
crosses sites, and no extra privacy budget is spent."""

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


def aggregates_from_release(release: dict, features: dict) -> dict:
    """The descriptive aggregates a DP training release implies (post-processing only): the
    noisy count; per numeric feature count, sum and sum of squares back in the feature's
    (transformed) units; per binary feature counts; per endpoint the released events; the
    values not observed. Categorical summaries are not part of the release.

    Args:
        release: a site's DP training release (of ``training_release_all.json``, its first seed's).
        features: the disease's ``features`` config block (order and bounds).
    """
    n = max(float(release["numeric"][0]), 0.0)
    numeric, missing = {}, {}
    for i, name in enumerate(features["numeric"]):
        count, total, total_sq = release["numeric"][1 + 3 * i : 4 + 3 * i]
        count = min(max(count, 0.0), n)
        low, high = features["bounds"][name]
        centre, half = (low + high) / 2, (high - low) / 2  # x = centre + half * scaled
        numeric[name] = {"n_obs": count, "sum": centre * count + half * total,
                         "sum_sq": centre**2 * count + 2 * centre * half * total + half**2 * max(total_sq, 0.0)}  # fmt: skip
        missing[name] = n - count
    binary = {}
    for i, name in enumerate(features["binary"]):
        count, ones = release["binary"][2 * i : 2 * i + 2]
        count = min(max(count, 0.0), n)
        binary[name] = {"n_obs": count, "n_one": min(max(ones, 0.0), count)}
        missing[name] = n - count
    endpoints = {e: {"n_known": n, "events": max(float(sum(h)), 0.0)} for e, h in release["histograms"].items()}
    return {"site_id": release["site_id"], "subset": "all", "n": round(n), "numeric": numeric, "binary": binary,
            "categorical": {}, "endpoints": endpoints, "n_missing": missing, "suppressed": [],
            "source": "DP training release (noisy)"}  # fmt: skip


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
        # a gene counts as sequenced when at least half the site's patients have it
        # observed (exact aggregates: anyone; a noisy release: more than noise)
        row["genes_sequenced"] = sum(1 for g in genes if n and agg["n_missing"][g] < (n / 2 if "source" in agg else n))
        for var in CLINICAL_VARIABLES:
            if var.kind in ("numeric", "time") and n and var.name in agg["n_missing"]:
                row[f"pct_missing_{var.name}"] = round(100 * max(agg["n_missing"][var.name], 0.0) / n, 1)
        rows.append(row)
    return pd.DataFrame(rows)
