"""Summaries of evaluation metrics that cross sites (metrics only, never predictions)."""

from __future__ import annotations

import numpy as np
import pandas as pd

KEYS = ["endpoint", "strategy", "epsilon", "seed"]


def pooled_harrell(rows: pd.DataFrame) -> float:
    """Harrell's C over several test sites from their pair counts (pairs within a site)."""
    concordant, discordant, tied = rows["concordant"].sum(), rows["discordant"].sum(), rows["tied_risk"].sum()
    total = concordant + discordant + tied
    return float((concordant + 0.5 * tied) / total) if total else float("nan")


def loso_summary(metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per (run, test site) plus a 'pooled' row per run over all held-out sites.

    A local-only run has one model per training site: its per-site row averages their C,
    and its pooled row pools all their pairs.
    """
    rows = []
    for key, group in metrics.groupby(KEYS, sort=True):
        for site, per_site in group.groupby("test_site", sort=True):
            rows.append({**dict(zip(KEYS, key)), "test_site": site, "c_index": float(per_site["c_index"].mean()),
                         "n": int(per_site["n"].iloc[0]), "events": int(per_site["events"].iloc[0]), "models": len(per_site)})  # fmt: skip
        first = group.drop_duplicates("test_site")
        rows.append({**dict(zip(KEYS, key)), "test_site": "pooled", "c_index": pooled_harrell(group),
                     "n": int(first["n"].sum()), "events": int(first["events"].sum()), "models": len(group)})  # fmt: skip
    out = pd.DataFrame(rows)
    out["c_index"] = out["c_index"].round(4)
    return out.replace({np.nan: None})
