"""The privacy ledger: one row per run, site and mechanism, holding everything needed to
recompute each site's epsilon (noise multiplier, sample rate, steps, accountant, delta)."""

from __future__ import annotations

import pandas as pd

from fedheme.privacy.accounting import ACCOUNTANT, Mechanism, epsilon_of

LEDGER_COLUMNS = ["run", "site", "mechanism", "noise_multiplier", "sample_rate", "steps", "accountant", "epsilon", "delta", "note"]


def ledger_rows(run: str, site: str, history: list[Mechanism], delta: float, note: str = "") -> list[dict]:
    """Ledger rows of one site: one per mechanism; ``epsilon`` is the site's total after all."""
    total = epsilon_of(history, delta)
    return [
        {"run": run, "site": site, "mechanism": m.name, "noise_multiplier": m.noise_multiplier, "sample_rate": m.sample_rate,
         "steps": m.steps, "accountant": ACCOUNTANT, "epsilon": total, "delta": delta, "note": note}
        for m in history
    ]  # fmt: skip


def recompute_epsilon(ledger: pd.DataFrame) -> pd.Series:
    """Epsilon per (run, site) recomputed from the ledger's rows alone."""
    out = {}
    for (run, site), rows in ledger.groupby(["run", "site"], sort=False):
        history = [Mechanism(r.mechanism, r.noise_multiplier, r.sample_rate, int(r.steps)) for r in rows.itertuples()]
        out[(run, site)] = epsilon_of(history, float(rows["delta"].iloc[0]))
    return pd.Series(out, name="epsilon")
