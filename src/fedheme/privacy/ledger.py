"""The privacy ledger: one row per run, site and mechanism, holding everything needed to
recompute each site's epsilon (noise multiplier, sample rate, steps, accountant, delta).

Every run is listed, the non-private ones too (``epsilon`` inf, mechanism ``non-private
training``), with the run's strategy, target epsilon and seed; the study ledger adds the
disease, endpoint and fold. Sample rates come from released (noisy) counts and delta is a
public value, so no column reveals a site's size.
"""

from __future__ import annotations

import pandas as pd

from fedheme.privacy.accounting import ACCOUNTANT, Mechanism, epsilon_of

#: Columns of one fold's ledger.
RUN_LEDGER_COLUMNS = ["run", "strategy", "target_epsilon", "seed", "site", "mechanism", "release", "noise_multiplier",
                      "sample_rate", "steps", "accountant", "epsilon", "delta", "note"]  # fmt: skip
#: Columns of the study's ledger (results/privacy/ledger.tsv).
LEDGER_COLUMNS = ["disease", "endpoint", "fold"] + RUN_LEDGER_COLUMNS


def ledger_rows(run: dict, site: str, history: list[Mechanism], delta: float, note: str = "") -> list[dict]:
    """Ledger rows of one site in one run: one per mechanism; ``epsilon`` is the site's
    total for the run (inf where a mechanism adds no noise).

    Args:
        run: ``run`` (its name), ``strategy``, ``target_epsilon`` and ``seed``.
    """
    total = epsilon_of(history, delta)
    return [
        {**run, "site": site, "mechanism": m.name, "release": m.release, "noise_multiplier": m.noise_multiplier,
         "sample_rate": m.sample_rate, "steps": m.steps, "accountant": ACCOUNTANT, "epsilon": total, "delta": delta, "note": note}
        for m in history
    ]  # fmt: skip


def read_ledger(path) -> pd.DataFrame:
    """A ledger TSV with its text columns as written (an empty release or note stays empty)."""
    return pd.read_csv(path, sep="\t", dtype={"target_epsilon": str, "seed": str, "release": str, "note": str}, keep_default_na=False)


def released_by(rows: pd.DataFrame) -> pd.Series:
    """The ``release`` of each row, empty for a mechanism that is not a shared release."""
    if "release" not in rows:
        return pd.Series("", index=rows.index)
    return rows["release"].fillna("").astype(str).replace("NA", "")


def history_of(rows: pd.DataFrame) -> list[Mechanism]:
    """The mechanisms of ledger rows."""
    release = released_by(rows)
    return [Mechanism(r.mechanism, float(r.noise_multiplier), float(r.sample_rate), int(r.steps), str(rel))
            for r, rel in zip(rows.itertuples(), release)]  # fmt: skip


def recompute_epsilon(ledger: pd.DataFrame) -> pd.Series:
    """Epsilon per (run, site) recomputed from the ledger's rows alone."""
    out = {}
    for (run, site), rows in ledger.groupby(["run", "site"], sort=False):
        out[(run, site)] = epsilon_of(history_of(rows), float(rows["delta"].iloc[0]))
    return pd.Series(out, name="epsilon")
