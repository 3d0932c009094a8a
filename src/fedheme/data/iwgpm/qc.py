"""Per-site quality control of a harmonised export.

The QC report is for the site's own data manager and stays in the site's private folder:
it holds ranges (minimum and maximum are single patients' values) and the flagged values
with their line numbers. What crosses sites is the aggregate file of :mod:`fedheme.data.iwgpm.aggregates`.
"""

from __future__ import annotations

import pandas as pd

from fedheme.standard.mds_catalogue import PANEL_GENES
from fedheme.standard.mds import CLINICAL_VARIABLES, DERIVED_VARIABLES, Variable, gene_column
from fedheme.data.iwgpm.validation import SiteExport

REPORTED_VARIABLES: tuple[Variable, ...] = CLINICAL_VARIABLES + DERIVED_VARIABLES


def flagged_values(patients: pd.DataFrame) -> pd.DataFrame:
    """Values inside the physiological range but outside the plausible one (one row each).

    Columns: line, patient_id, variable, value, unit, plausible_low, plausible_high.
    """
    rows = []
    for var in REPORTED_VARIABLES:
        if var.soft_range is None or var.name not in patients.columns:
            continue
        low, high = var.soft_range
        values = patients[var.name]
        outside = values.notna() & ((values < low) | (values > high))
        for line, value in values[outside].items():
            rows.append(
                {
                    "line": int(line),
                    "patient_id": patients.at[line, "patient_id"],
                    "variable": var.name,
                    "value": float(value),
                    "unit": var.unit,
                    "plausible_low": low,
                    "plausible_high": high,
                }
            )
    columns = ["line", "patient_id", "variable", "value", "unit", "plausible_low", "plausible_high"]
    return pd.DataFrame(rows, columns=columns)


def qc_summary(export: SiteExport, site_id: str, dialect: str, files: list[str]) -> dict:
    """Counts, missingness per variable, ranges and flag counts of one site's export."""
    patients = export.patients
    flags = flagged_values(patients)
    n = len(patients)
    variables = []
    for var in REPORTED_VARIABLES:
        values = patients[var.name]
        row = {
            "variable": var.name,
            "unit": var.unit,
            "n_missing": int(values.isna().sum()),
            "pct_missing": round(100 * values.isna().mean(), 1) if n else None,
        }
        if var.kind in ("numeric", "time") and values.notna().any():
            row.update(min=float(values.min()), median=float(values.median()), max=float(values.max()))
        if var.kind in ("binary", "event", "category") and values.notna().any():
            row["counts"] = {str(k): int(v) for k, v in values.value_counts().sort_index().items()}
        row["n_flagged"] = int((flags["variable"] == var.name).sum()) if len(flags) else 0
        variables.append(row)
    mutated = {g: int(patients[gene_column(g)].sum()) for g in export.sequenced_genes}
    return {
        "site_id": site_id,
        "dialect": dialect,
        "files": files,
        "n_patients": n,
        "n_variants": int(len(export.variants)),
        "n_flagged_values": int(len(flags)),
        "panel": {
            "n_sequenced": len(export.sequenced_genes),
            "not_sequenced": [g for g in PANEL_GENES if g not in export.sequenced_genes],
            "n_mutated": mutated,
        },
        "ignored_columns": export.extra_columns,
        "variables": variables,
    }


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def qc_markdown(summary: dict) -> str:
    """The QC summary as a Markdown report for the site's data manager."""
    lines = [
        f"# QC report: site {summary['site_id']}",
        "",
        f"- export dialect: `{summary['dialect']}`",
        f"- files: {', '.join(f'`{f}`' for f in summary['files'])}",
        f"- patients: {summary['n_patients']}; variants: {summary['n_variants']}",
        f"- genes sequenced: {summary['panel']['n_sequenced']} of {len(PANEL_GENES)}",
        f"- values flagged as implausible (kept, see qc_flags.tsv): {summary['n_flagged_values']}",
    ]
    if summary["ignored_columns"]:
        lines.append(f"- exported columns fedheme does not use: {', '.join(summary['ignored_columns'])}")
    lines += [
        "",
        "| variable | unit | missing | % missing | min | median | max | flagged |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in summary["variables"]:
        cells = [row["variable"], row["unit"], row["n_missing"], row["pct_missing"], row.get("min"), row.get("median"), row.get("max"), row["n_flagged"]]
        lines.append("| " + " | ".join(_fmt(c) for c in cells) + " |")
    if summary["panel"]["not_sequenced"]:
        lines += ["", "Genes not on this site's panel (missing, not 0): " + ", ".join(summary["panel"]["not_sequenced"])]
    return "\n".join(lines) + "\n"
