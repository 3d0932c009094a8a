"""Per-site QC of a tabular disease: patients, split sizes, missingness and events, for
the site's own data manager (the report stays in the site's private folder)."""

from __future__ import annotations

import pandas as pd

from fedheme.data.splits import SPLITS
from fedheme.standard.tabular import TabularSpec


def tabular_qc(patients: pd.DataFrame, spec: TabularSpec, site_id: str, file: str) -> dict:
    """Counts a site's QC report gives: patients, split sizes, missingness, events (aggregates)."""
    return {
        "site_id": site_id,
        "file": file,
        "n": int(len(patients)),
        "split": {s: int((patients["split"] == s).sum()) for s in SPLITS},
        "missing_percent": {c.name: round(100 * float(patients[c.name].isna().mean()), 1) for c in spec.columns},
        "events": {e.name: int(patients[e.event].sum()) for e in spec.endpoints},
    }


def tabular_qc_markdown(summary: dict) -> str:
    lines = [f"# QC of site {summary['site_id']}", "", f"File: `{summary['file']}`", "",
             f"Patients: {summary['n']} (train {summary['split']['train']}, test {summary['split']['test']})", "",
             "| endpoint | events |", "|---|---|"]  # fmt: skip
    lines += [f"| {k} | {v} |" for k, v in summary["events"].items()]
    lines += ["", "| column | missing (%) |", "|---|---|"]
    lines += [f"| {k} | {v:g} |" for k, v in summary["missing_percent"].items()]
    return "\n".join(lines) + "\n"
