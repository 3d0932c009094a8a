"""The cross-site reclassification table, from the sites' released cross-tabulations only."""

from __future__ import annotations

import pandas as pd

#: Columns of :func:`pool_crosstabs`.
POOLED_COLUMNS = ["who_2016", "who2022", "icc2022", "n", "sites", "sites_suppressed", "note"]


def pool_crosstabs(releases: list[dict]) -> pd.DataFrame:
    """One row per (WHO 2016, WHO 2022, ICC) combination released by any site: the sum of
    the released counts, how many sites released it and how many hid it (small cells: the
    sum then covers the other sites, and the note says so)."""
    rows = []
    for release in releases:
        for cell in release["cells"]:
            rows.append({**{k: cell[k] for k in ("who_2016", "who2022", "icc2022")}, "n": cell["n"], "site": release["site_id"]})
    frame = pd.DataFrame(rows, columns=["who_2016", "who2022", "icc2022", "n", "site"])
    out = []
    for key, group in frame.groupby(["who_2016", "who2022", "icc2022"], sort=True):
        shown = group["n"].notna()
        hidden = int((~shown).sum())
        out.append({"who_2016": key[0], "who2022": key[1], "icc2022": key[2], "n": int(group.loc[shown, "n"].sum()),
                    "sites": int(shown.sum()), "sites_suppressed": hidden,
                    "note": f"hidden at {hidden} sites (small cells): n counts the other sites" if hidden else ""})  # fmt: skip
    return pd.DataFrame(out, columns=POOLED_COLUMNS)
