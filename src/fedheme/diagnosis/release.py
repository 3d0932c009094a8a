"""A site's release of its reclassification, inside the site: how many of its patients fall
in each (WHO 2016, WHO 2022, ICC 2022) combination, with small cells suppressed.

One patient sits in one cell. A count strictly between 0 and ``min_cell_count`` is
released as null. The site's WHO 2016 counts are released elsewhere (its descriptive
aggregates), so a hidden cell could be recovered as its WHO 2016 total minus the released
cells of that row: when a row has exactly one hidden cell, the smallest other non-zero
cell of the row is hidden too. No other totals are released. A descriptive release with
small-cell suppression only, like the site aggregates (research mode).
"""

from __future__ import annotations

import pandas as pd

from fedheme.diagnosis.classification import crosstab
from fedheme.privacy.suppression import is_small

#: Columns of a site's cells.
KEYS = ["who_2016", "who2022", "icc2022"]


def crosstab_release(labels: pd.DataFrame, *, site_id: str, min_cell_count: int) -> dict:
    """The site's JSON-ready release: cells with ``n`` null where suppressed, and the list of
    suppressed cells (``who_2016 | who2022 | icc2022``)."""
    counts = crosstab(labels)
    hidden = counts["n"].map(lambda n: is_small(int(n), min_cell_count))
    for _, row in counts.groupby("who_2016"):
        if hidden[row.index].sum() == 1:  # its WHO 2016 total would give it back
            others = row[~hidden[row.index] & (row["n"] > 0)]
            if len(others):
                hidden[others["n"].idxmin()] = True
    cells = [{**{k: r[k] for k in KEYS}, "n": None if hidden[i] else int(r["n"])} for i, r in counts.iterrows()]
    return {"site_id": site_id, "release": "classification_crosstab", "min_cell_count": int(min_cell_count), "cells": cells,
            "suppressed": [" | ".join(str(r[k]) for k in KEYS) for i, r in counts.iterrows() if hidden[i]]}  # fmt: skip
