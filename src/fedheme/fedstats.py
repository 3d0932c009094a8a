"""Federated standardisation: sites release aggregates, never rows.

Each site computes, over one subset of its patients (``all`` or its ``train`` split), the
aggregates of :func:`site_aggregates`: per numeric feature the count of observed values,
their sum and sum of squares; per binary feature the count of ones; per category its
count; per endpoint the patients with known outcome and the events. Any count cell
strictly between 0 and ``min_cell_count`` is suppressed (released as null), together with
every statistic computed from it and any cell from which it could be recovered by
subtraction. Missing-value counts are released as data-quality metadata (as DataSHIELD
does); they say how a site records, not what a patient has.

:func:`combine_aggregates` pools the released aggregates of a set of sites into global
means and standard deviations; :func:`standardise` then runs inside each site.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from fedheme.features import FeatureSpec, model_features
from fedheme.schema import HARMONISED_VARIABLES, SURVIVAL_ENDPOINTS

CATEGORICAL_SUMMARIES = ("sex", "cyto_ipssr", "who_2016")


def _small(count: int, min_cell: int) -> bool:
    return 0 < count < min_cell


def _count_pair(total_name: str, total: int, part_name: str, part: int, min_cell: int, path: str, suppressed: list[str]) -> dict:
    """A count and a sub-count (e.g. patients and events): the total is hidden when small;
    the part is hidden when it or its complement (total - part) is small."""
    if _small(total, min_cell):
        suppressed.append(path)
        return {total_name: None, part_name: None}
    if _small(part, min_cell) or _small(total - part, min_cell):
        suppressed.append(f"{path}.{part_name}")
        return {total_name: total, part_name: None}
    return {total_name: total, part_name: part}


def site_aggregates(patients: pd.DataFrame, spec: FeatureSpec, site_id: str, subset: str, min_cell_count: int) -> dict:
    """Aggregates of one site's patients, with small cells suppressed.

    Args:
        patients: harmonised rows of the site (already restricted to ``subset``).
        spec: the model features.
        site_id, subset: recorded in the result.
        min_cell_count: counts in (0, min_cell_count) are suppressed.

    Returns:
        A JSON-ready dict; ``suppressed`` lists the dotted paths of suppressed cells.
    """
    n = int(len(patients))
    suppressed: list[str] = []
    features = model_features(patients, spec)
    numeric: dict[str, dict] = {}
    for name in spec.numeric:
        x = features[name].dropna()
        cell = {"n_obs": int(len(x)), "sum": float(x.sum()), "sum_sq": float((x**2).sum())}
        if _small(cell["n_obs"], min_cell_count):
            cell = {"n_obs": None, "sum": None, "sum_sq": None}
            suppressed.append(f"numeric.{name}")
        numeric[name] = cell
    binary: dict[str, dict] = {}
    for name in spec.binary:
        x = features[name].dropna()
        binary[name] = _count_pair("n_obs", int(len(x)), "n_one", int(x.sum()), min_cell_count, f"binary.{name}", suppressed)
    categorical: dict[str, dict] = {}
    for name in CATEGORICAL_SUMMARIES:
        counts = patients[name].value_counts().to_dict()
        released: dict[str, int | None] = {str(k): int(v) for k, v in sorted(counts.items())}
        small = [k for k, v in released.items() if _small(v, min_cell_count)]
        if len(small) == 1 and len(released) > 1:
            # one hidden cell is recoverable from the total: hide the next smallest too
            others = sorted((v, k) for k, v in released.items() if k not in small)
            small.append(others[0][1])
        for k in small:
            released[k] = None
            suppressed.append(f"categorical.{name}.{k}")
        categorical[name] = released
    endpoints: dict[str, dict] = {}
    for endpoint, (time_col, event_col) in SURVIVAL_ENDPOINTS.items():
        known = patients[event_col].notna() & patients[time_col].notna()
        events = int(patients.loc[known, event_col].sum())
        endpoints[endpoint] = _count_pair("n_known", int(known.sum()), "events", events, min_cell_count, f"endpoints.{endpoint}", suppressed)
    missing = {v.name: int(patients[v.name].isna().sum()) for v in HARMONISED_VARIABLES if v.name in patients.columns}
    return {
        "site_id": site_id,
        "subset": subset,
        "n": n if not _small(n, min_cell_count) else None,
        "min_cell_count": min_cell_count,
        "numeric": numeric,
        "binary": binary,
        "categorical": categorical,
        "endpoints": endpoints,
        "n_missing": missing,
        "suppressed": suppressed,
    }


def combine_aggregates(aggregates: list[dict], spec: FeatureSpec) -> dict:
    """Global feature statistics from the released aggregates of several sites.

    Suppressed cells are left out (their sites do not contribute to that feature).

    Returns:
        ``{"sites": [...], "features": {name: {"mean", "sd", "n_obs", "n_sites"}}}``;
        ``mean``/``sd`` are None where no site released the feature.
    """
    features: dict[str, dict] = {}
    for name in spec.numeric:
        cells = [a["numeric"][name] for a in aggregates if a["numeric"][name]["n_obs"] is not None]
        n_obs = sum(c["n_obs"] for c in cells)
        total = sum(c["sum"] for c in cells)
        total_sq = sum(c["sum_sq"] for c in cells)
        mean = total / n_obs if n_obs else None
        sd = math.sqrt(max(total_sq - n_obs * mean**2, 0.0) / (n_obs - 1)) if n_obs > 1 else None
        features[name] = {"kind": "numeric", "mean": mean, "sd": sd, "n_obs": n_obs, "n_sites": len(cells)}
    for name in spec.binary:
        cells = [a["binary"][name] for a in aggregates if a["binary"][name]["n_one"] is not None]
        n_obs = sum(c["n_obs"] for c in cells)
        p = sum(c["n_one"] for c in cells) / n_obs if n_obs else None
        sd = math.sqrt(p * (1 - p)) if p is not None else None
        features[name] = {"kind": "binary", "mean": p, "sd": sd, "n_obs": n_obs, "n_sites": len(cells)}
    return {"sites": sorted(a["site_id"] for a in aggregates), "features": features}


def standardise(patients: pd.DataFrame, spec: FeatureSpec, global_stats: dict) -> tuple[pd.DataFrame, list[str]]:
    """Standardise a site's features with global statistics; impute missing with the global mean.

    Returns:
        (features, dropped): z-scores (n_patients x kept features; missing -> 0, the global
        mean) and the features dropped because no site released them or their sd is 0.
    """
    raw = model_features(patients, spec)
    kept, dropped = {}, []
    for name in spec.names:
        stats = global_stats["features"][name]
        if stats["mean"] is None or not stats["sd"]:
            dropped.append(name)
            continue
        kept[name] = ((raw[name] - stats["mean"]) / stats["sd"]).fillna(0.0)
    return pd.DataFrame(kept, index=patients.index, dtype=np.float64), dropped
