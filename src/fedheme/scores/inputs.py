"""``fedheme score``: clinical scores for a clinician's own cohort file.

The file (TSV, CSV or parquet; one row per patient; harmonised column names, see
``resources/data_dictionary.tsv``, or for ``ipssm`` the official calculator's input
template as it is, :mod:`fedheme.scores.template`) is checked like a site export: every
problem is named by file, line (or row, for parquet) and column, and no output is written
unless all is valid.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from fedheme.data.iwgpm.dialects import load_dialect
from fedheme.io import write_tsv
from fedheme.standard.mds import HARMONISED_VARIABLES, MM_SCORE_VARIABLES, Variable, subset_schema
from fedheme.scores import SCORES
from fedheme.data.issues import IssueCollector
from fedheme.data.iwgpm.validation import RawTable, apply_schema, parse_table, read_delimited
from fedheme.scores.template import absent_ipssm_inputs, from_template, is_template, name_template_columns

#: Columns each score cannot do without (besides patient_id).
REQUIRED_INPUTS = {
    "ipssr": ("cyto_ipssr", "bm_blast_pct", "hb_g_dl", "plt_1e9_l", "anc_1e9_l"),
    "ipssm": ("cyto_ipssr", "bm_blast_pct", "hb_g_dl", "plt_1e9_l"),
    "iss": ("b2m_mg_l", "albumin_g_dl"),
    "riss": ("b2m_mg_l", "albumin_g_dl", "del17p", "t_4_14", "t_14_16"),
    "r2iss": ("b2m_mg_l", "albumin_g_dl", "del17p", "t_4_14", "gain_1q"),
}
INPUT_VARIABLES: tuple[Variable, ...] = HARMONISED_VARIABLES + MM_SCORE_VARIABLES


def _raw_table(path: Path, issues: IssueCollector) -> RawTable | None:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        frame = pd.read_parquet(path)
        rows = frame.astype(object).where(frame.notna(), "NA").astype(str).to_numpy().tolist()
        return RawTable(str(path), [str(c) for c in frame.columns], rows, list(range(1, len(frame) + 1)))
    dialect = load_dialect("fedheme")
    if suffix == ".csv":
        dialect = dataclasses.replace(dialect, delimiter=",")
    elif suffix not in (".tsv", ".txt", ".tab"):
        issues.add(str(path), None, None, f"unknown file type {suffix!r}: use .tsv, .csv or .parquet")
        return None
    return read_delimited(path, dialect, issues)


def read_score_input(path: str | Path, score: str | None, max_errors: int = 50, *, require: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read and check a cohort file for ``score``; returns harmonised columns, index = line.

    Args:
        score: the score whose inputs are required (None: only ``patient_id`` and ``require``,
            as ``fedheme classify`` reads a file).
        require: columns needed besides the score's own inputs (e.g. ``age`` for ``fedheme hsct``).

    Raises:
        fedheme.data.issues.ExportValidationError: naming file, line (row) and column.
    """
    if score is not None and score not in SCORES:
        raise ValueError(f"unknown score {score!r}; choose one of {sorted(SCORES)}")
    path = Path(path)
    issues = IssueCollector(max_errors)
    raw = _raw_table(path, issues)
    if raw is None:
        issues.raise_if_any()
    names: dict[str, str] = {}
    if score == "ipssm" and is_template(raw.header):  # the official calculator's template
        raw, names = from_template(raw, issues)
    required = {"patient_id", *(REQUIRED_INPUTS[score] if score else ()), *require}
    variables = tuple(dataclasses.replace(v, required=v.name in required) for v in INPUT_VARIABLES)
    layout = load_dialect("fedheme").patients
    frame, _ = parse_table(raw, layout, variables, load_dialect("fedheme"), issues)
    by_name = {v.name: v for v in variables}
    for name in frame.columns:
        if by_name[name].kind not in ("id", "text", "category"):
            frame[name] = pd.to_numeric(frame[name], errors="coerce").astype(float)
    present = tuple(v for v in variables if v.name in frame.columns)
    apply_schema(frame, subset_schema(present, f"{score} input"), by_name, layout, raw.file, issues)
    name_template_columns(issues, names)
    issues.raise_if_any()
    return frame


def score_file(score: str, input_path: str | Path, output_path: str | Path, max_errors: int = 50) -> pd.DataFrame:
    """Compute ``score`` for every patient of a cohort file and write a TSV (one row each).

    ``table.attrs["absent_inputs"]`` lists the IPSS-M variables the file cannot inform
    for anyone (see :func:`fedheme.scores.template.absent_ipssm_inputs`)."""
    frame = read_score_input(input_path, score, max_errors)
    result = SCORES[score](frame)
    table = pd.concat([frame[["patient_id"]], result], axis=1).reset_index(drop=True)
    write_tsv(output_path, table)
    # IPSS-M imputes what a file cannot inform: say which variables, for every patient
    table.attrs["absent_inputs"] = absent_ipssm_inputs(frame.columns) if score == "ipssm" else []
    return table
