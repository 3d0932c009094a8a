"""The descriptive aggregates an MDS site releases (the site overview and heterogeneity
figure are drawn from them): computed inside the site, never rows.

Each site computes, over one subset of its patients (``all`` or its ``train`` split), the
aggregates of :func:`site_aggregates`: per numeric feature the count of observed values,
their sum and sum of squares; per binary feature the count of ones; per category its
count; per endpoint the patients with known outcome and the events. Any count cell
strictly between 0 and ``min_cell_count`` is suppressed (released as null), together with
every statistic computed from it and any cell from which it could be recovered by
subtraction. Missing-value counts are released as data-quality metadata (as DataSHIELD
does); they say how a site records, not what a patient has, so variables whose missingness
is itself a fact about patients (the transplant date, missing unless transplanted, and the
endpoints derived from it) have none. Endpoints are those the study declares; where a
natural-history endpoint stands beside its recorded one, their counts differ only by the
patients transplanted, and the natural-history cell is hidden when that difference is a
small cell. They are a descriptive
release with small-cell suppression only, outside the DP guarantee of training.
"""

from __future__ import annotations

import pandas as pd

from fedheme.data.features import model_features
from fedheme.privacy.suppression import count_pair, is_small
from fedheme.standard.features import FeatureSpec
from fedheme.standard.mds import DERIVED_VARIABLES, HARMONISED_VARIABLES, NATURAL_HISTORY, SURVIVAL_ENDPOINTS

CATEGORICAL_SUMMARIES = ("sex", "cyto_ipssr", "who_2016")

#: Variables without a released missing count: missing means "not transplanted" (or is derived).
MISSINGNESS_IS_DATA = frozenset({"time_to_transplant_days"} | {v.name for v in DERIVED_VARIABLES})


def _suppress_differences(outcomes: dict, min_cell_count: int, suppressed: list[str]) -> None:
    """A natural-history endpoint beside its recorded one: their counts differ only by the
    patients transplanted, so the natural-history cell is hidden when a difference of two
    released counts would be a small cell."""
    for natural, recorded in NATURAL_HISTORY.items():
        if natural not in outcomes or recorded not in outcomes:
            continue
        a, b = outcomes[natural], outcomes[recorded]
        if any(a[k] is not None and b[k] is not None and is_small(abs(b[k] - a[k]), min_cell_count) for k in a):
            outcomes[natural] = {k: None for k in a}
            suppressed.append(f"endpoints.{natural}")


def site_aggregates(patients: pd.DataFrame, spec: FeatureSpec, site_id: str, subset: str, min_cell_count: int,
                    *, endpoints: tuple[str, ...]) -> dict:  # fmt: skip
    """Aggregates of one site's patients, with small cells suppressed.

    Args:
        patients: harmonised rows of the site (already restricted to ``subset``).
        spec: the model features.
        site_id, subset: recorded in the result.
        min_cell_count: counts in (0, min_cell_count) are suppressed.
        endpoints: the study's endpoints (keys of ``SURVIVAL_ENDPOINTS``).

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
        if is_small(cell["n_obs"], min_cell_count):
            cell = {"n_obs": None, "sum": None, "sum_sq": None}
            suppressed.append(f"numeric.{name}")
        numeric[name] = cell
    binary: dict[str, dict] = {}
    for name in spec.binary:
        x = features[name].dropna()
        binary[name] = count_pair("n_obs", int(len(x)), "n_one", int(x.sum()), min_cell_count, f"binary.{name}", suppressed)
    categorical: dict[str, dict] = {}
    for name in CATEGORICAL_SUMMARIES:
        counts = patients[name].value_counts().to_dict()
        released: dict[str, int | None] = {str(k): int(v) for k, v in sorted(counts.items())}
        small = [k for k, v in released.items() if is_small(v, min_cell_count)]
        if len(small) == 1 and len(released) > 1:
            # one hidden cell is recoverable from the total: hide the next smallest too
            others = sorted((v, k) for k, v in released.items() if k not in small)
            small.append(others[0][1])
        for k in small:
            released[k] = None
            suppressed.append(f"categorical.{name}.{k}")
        categorical[name] = released
    outcomes: dict[str, dict] = {}
    for endpoint in endpoints:
        time_col, event_col = SURVIVAL_ENDPOINTS[endpoint]
        known = patients[event_col].notna() & patients[time_col].notna()
        events = int(patients.loc[known, event_col].sum())
        outcomes[endpoint] = count_pair("n_known", int(known.sum()), "events", events, min_cell_count, f"endpoints.{endpoint}", suppressed)
    _suppress_differences(outcomes, min_cell_count, suppressed)
    missing = {
        v.name: int(patients[v.name].isna().sum())
        for v in HARMONISED_VARIABLES
        if v.name in patients.columns and v.name not in MISSINGNESS_IS_DATA
    }
    return {
        "site_id": site_id,
        "subset": subset,
        "n": n if not is_small(n, min_cell_count) else None,
        "min_cell_count": min_cell_count,
        "numeric": numeric,
        "binary": binary,
        "categorical": categorical,
        "endpoints": outcomes,
        "n_missing": missing,
        "suppressed": suppressed,
    }


