"""Kaplan-Meier curves by predicted risk group, from life tables that sites release.

Each test site counts, per risk group and per interval of a fixed time grid, the patients
at risk at the start, the events and the censorings in it; the table stops before the
first interval where fewer than ``min_at_risk`` patients are at risk, so no released
point rests on fewer patients. Risk groups are fixed thresholds on the predicted risk at
a horizon (public, set in config), so they mean the same at every site. Curves are the
actuarial (life-table) estimate, per site or from the summed tables of several sites.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

LIFE_TABLE_COLUMNS = ["risk_group", "start", "n_at_risk", "events", "censored"]


def risk_group_labels(thresholds: list[float]) -> list[str]:
    """Labels of the groups cut by ``thresholds`` (risks in [0, 1]): '<20%', '20-50%', '>=50%'."""
    cuts = [f"{100 * t:g}%" for t in thresholds]
    if not cuts:
        return ["all"]
    return [f"<{cuts[0]}"] + [f"{a}-{b}" for a, b in zip(cuts, cuts[1:])] + [f">={cuts[-1]}"]


def risk_groups(predicted_risk: np.ndarray, thresholds: list[float]) -> np.ndarray:
    """The label of each patient's group, shape (n,)."""
    labels = np.array(risk_group_labels(thresholds), dtype=object)
    return labels[np.searchsorted(np.asarray(thresholds, float), predicted_risk, side="right")]


def life_table(time: np.ndarray, event: np.ndarray, groups: np.ndarray, step: float, horizon: float, min_at_risk: int) -> pd.DataFrame:
    """Per group and interval [start, start + step): at risk, events, censored; truncated
    where fewer than ``min_at_risk`` are at risk. Follow-up beyond the horizon is censored."""
    starts = np.arange(0.0, horizon, step)
    rows = []
    for label in pd.unique(groups):
        members = groups == label
        t, e = time[members], event[members].astype(bool)
        for start in starts:
            at_risk = int((t >= start).sum())
            if at_risk < min_at_risk:
                break
            inside = (t >= start) & (t < start + step)
            events = int((inside & e).sum())
            rows.append({"risk_group": label, "start": round(float(start), 6), "n_at_risk": at_risk, "events": events,
                         "censored": int(inside.sum()) - events})  # fmt: skip
    return pd.DataFrame(rows, columns=LIFE_TABLE_COLUMNS)


def actuarial_survival(table: pd.DataFrame, min_at_risk: int) -> pd.DataFrame:
    """Survival at the end of each interval, per group, from one or several summed tables.

    Returns columns risk_group, start, end, n_at_risk, survival; intervals with fewer than
    ``min_at_risk`` at risk (after summing) end the curve.
    """
    summed = table.groupby(["risk_group", "start"], as_index=False)[["n_at_risk", "events", "censored"]].sum()
    out = []
    for label, rows in summed.groupby("risk_group", sort=False):
        rows = rows.sort_values("start")
        step = np.diff(rows["start"]).min() if len(rows) > 1 else 1.0
        survival = 1.0
        for row in rows.itertuples(index=False):
            if row.n_at_risk < min_at_risk:
                break
            exposed = row.n_at_risk - row.censored / 2
            survival *= 1.0 - row.events / exposed if exposed > 0 else 1.0
            out.append({"risk_group": label, "start": row.start, "end": row.start + step, "n_at_risk": int(row.n_at_risk), "survival": survival})
    return pd.DataFrame(out, columns=["risk_group", "start", "end", "n_at_risk", "survival"])
