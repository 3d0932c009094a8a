"""Pooling over test sites, from what they release (per-site estimates, standard errors
and weights), never from predictions, replicates or patient rows: one ``pooled`` row per
run and metric, and the tidy metrics table of the study."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.stats import norm

from fedheme.evaluation.tables import DIGITS, METRIC_COLUMNS, POOL_KEYS, POOLED_ONLY


def pool_sites(metrics: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """One 'pooled' row per (run, metric) over the test sites where it is defined.

    The estimate is the weighted mean of the site estimates (Harrell's C: weights are
    comparable pairs, which gives Harrell's C over all within-site pairs; the others:
    patients). Sites resample independently, so its standard error is
    ``sqrt(sum_s (w_s / W)^2 se_s^2)`` and the interval the normal one around it. Sites
    reporting NA are left out and named in the note; a site with too few events for a C
    of its own (:data:`~fedheme.evaluation.tables.POOLED_ONLY`) still enters the pooled C
    with its comparable pairs.
    """
    metrics = metrics.copy()
    for k in ("epsilon", "seed"):
        metrics[k] = metrics[k].astype("string").fillna("NA")
    z = float(norm.ppf(0.5 + confidence / 2))
    rows = []
    for key, group in metrics.groupby(POOL_KEYS, sort=True):
        used = group[np.isfinite(group["value"]) & (group["weight"] > 0)]
        # the reason is a note's last clause (scores first say how many patients they cover)
        missing = group.loc[~group.index.isin(used.index)]
        by_reason: dict[str, list[str]] = {}
        for site, reason in zip(missing["test_site"], missing["note"].fillna("").astype(str)):
            by_reason.setdefault(reason.split("; ")[-1], []).append(site)
        reasons = sorted(by_reason)
        left_out = "; ".join(f"{', '.join(sorted(by_reason[r]))}" + (f" ({r})" if r else "") for r in reasons)
        note = f"pooled over {len(used)} sites" + (f"; NA at {left_out}" if left_out else "")
        if used.empty and len(reasons) == 1:
            note = f"NA at every site: {reasons[0]}"
        row = dict(zip(POOL_KEYS, key)) | {"test_site": "pooled", "n": int(used["n"].sum()), "events": int(used["events"].sum()), "note": note}
        if used.empty:
            rows.append(row | {"value": math.nan, "ci_low": math.nan, "ci_high": math.nan, "se": math.nan})
            continue
        share = used["weight"].to_numpy() / used["weight"].sum()
        value = float(np.sum(share * used["value"].to_numpy()))
        se = float(np.sqrt(np.sum((share * used["se"].to_numpy()) ** 2)))
        low, high = (value - z * se, value + z * se) if math.isfinite(se) else (math.nan, math.nan)
        rows.append(row | {"value": value, "ci_low": low, "ci_high": high, "se": se})
    out = pd.DataFrame(rows)
    for k in ("epsilon", "seed"):
        out[k] = out[k].replace("NA", None)
    return out


def metrics_table(site_metrics: list[pd.DataFrame], confidence: float) -> pd.DataFrame:
    """The tidy metrics table: every site's rows and the pooled rows, sorted, rounded."""
    metrics = pd.concat(site_metrics, ignore_index=True)
    pooled = pool_sites(metrics, confidence)
    table = pd.concat([metrics.drop(columns="weight"), pooled], ignore_index=True)[METRIC_COLUMNS]
    table["note"] = table["note"].fillna("")
    # a site with too few events is in the pooled C, not shown alone
    alone = table["note"].str.contains(POOLED_ONLY, regex=False) & (table["test_site"] != "pooled")
    table.loc[alone, ["value", "ci_low", "ci_high", "se"]] = math.nan
    for column in ("value", "ci_low", "ci_high", "se"):
        table[column] = table[column].astype(float).round(DIGITS)
    table["seed"] = table["seed"].astype("string")
    table["epsilon"] = table["epsilon"].astype("string")
    order = {"harrell_c": 0, "uno_c": 1, "ibs": 8}
    table["_metric_order"] = table["metric"].map(lambda m: order.get(m, 5))
    table = table.sort_values(["disease", "endpoint", "design", "strategy", "epsilon", "seed", "test_site", "_metric_order", "metric"], na_position="first")
    return table.drop(columns="_metric_order").reset_index(drop=True)


def summarise_seeds(table: pd.DataFrame, confidence: float, keys: list[str]) -> pd.DataFrame:
    """The pooled rows (``test_site`` 'pooled') summarised over seeds, one row per ``keys``:
    the mean, the sd over seeds (DP noise and seed) and a normal interval whose variance adds
    the mean bootstrap variance (patients of the test sites) to the variance over seeds. It
    does not carry the sampling variance of the training patients (see the README).

    Columns: ``keys``, seeds, value, sd_seeds, ci_low, ci_high, n, events, note.
    """
    z = float(norm.ppf(0.5 + confidence / 2))
    pooled = table[table["test_site"] == "pooled"].copy()
    pooled["epsilon"] = pooled["epsilon"].astype("string").fillna("")
    out = []
    for key, group in pooled.groupby(keys, sort=True):
        values = group["value"].to_numpy(dtype=float)
        finite = np.isfinite(values)
        value = float(np.mean(values[finite])) if finite.any() else math.nan
        sd = float(np.std(values[finite], ddof=1)) if finite.sum() > 1 else (0.0 if finite.any() else math.nan)
        se = math.sqrt(float(np.nanmean(group["se"].to_numpy(dtype=float) ** 2)) + sd**2) if finite.any() else math.nan
        out.append({**dict(zip(keys, key)), "seeds": int(finite.sum()), "value": value, "sd_seeds": sd, "ci_low": value - z * se,
                    "ci_high": value + z * se, "n": int(group["n"].iloc[0]), "events": int(group["events"].iloc[0]),
                    "note": group["note"].iloc[0]})  # fmt: skip
    return pd.DataFrame(out, columns=list(keys) + ["seeds", "value", "sd_seeds", "ci_low", "ci_high", "n", "events", "note"])
