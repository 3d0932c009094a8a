"""Reading and checking one site's export: every problem is reported with the file, the
line and the column as the site wrote them, so a data manager can fix them in one pass.

Reading goes in stages, each stopping the file at its first structural failure (encoding,
empty file, delimiter) and otherwise collecting every cell-level problem up to a limit:

1. bytes -> text in the dialect's encoding;
2. delimited rows, each with its line number (the header is line 1);
3. exported column names -> harmonised names, required columns present;
4. each cell parsed: numbers with the dialect's decimal mark, codes mapped, units converted;
5. the pandera model of :mod:`fedheme.standard.mds` (ranges, categories, uniqueness, events).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pandera.errors

from fedheme.data.issues import IssueCollector
from fedheme.data.iwgpm.dialects import CONVERSION_DIGITS, Dialect, TableLayout
from fedheme.data.iwgpm.transplant import censor_at_transplant, check_transplant_dates
from fedheme.standard.mds import (
    HARMONISED_VARIABLES,
    SURVIVAL_ENDPOINTS,
    VARIABLES_BY_NAME,
    VARIANT_VARIABLES,
    VARIANT_VARIABLES_BY_NAME,
    Variable,
    gene_column,
    harmonised_schema,
    variant_schema,
)

HEADER_LINE = 1
COMMON_DELIMITERS = (",", ";", "\t", "|")


@dataclass
class RawTable:
    """A delimited file as strings: ``rows[i]`` was read from line ``lines[i]``."""

    file: str
    header: list[str]
    rows: list[list[str]]
    lines: list[int]


def _decode(path: Path, dialect: Dialect, issues: IssueCollector) -> str | None:
    data = path.read_bytes()
    if not data.strip():
        issues.add(str(path), HEADER_LINE, None, "the file is empty")
        return None
    try:
        text = data.decode(dialect.encoding)
    except UnicodeDecodeError as err:
        line_start = data.rfind(b"\n", 0, err.start) + 1
        line = data.count(b"\n", 0, err.start) + 1
        field_index = data[line_start : err.start].count(dialect.delimiter.encode())
        header = data.split(b"\n", 1)[0].decode(dialect.encoding, errors="replace")
        names = header.rstrip("\r").split(dialect.delimiter)
        column = names[field_index] if field_index < len(names) else None
        issues.add(
            str(path),
            line,
            column,
            f"byte 0x{data[err.start]:02x} cannot be decoded as {dialect.encoding} "
            f"(dialect {dialect.name!r}): is the file saved in another encoding?",
        )
        return None
    return text.lstrip("\ufeff")


def read_delimited(path: str | Path, dialect: Dialect, issues: IssueCollector) -> RawTable | None:
    """Read a delimited file into strings, or return None after adding a structural issue."""
    path = Path(path)
    name = str(path)
    if not path.is_file():
        issues.add(name, None, None, "file not found")
        return None
    text = _decode(path, dialect, issues)
    if text is None:
        return None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=dialect.delimiter)
    try:
        header = next(reader)
        rows, lines = [], []
        for row in reader:
            if not row or all(not cell.strip() for cell in row):
                continue
            rows.append(row)
            lines.append(reader.line_num)
    except csv.Error as err:
        issues.add(name, reader.line_num, None, f"malformed delimited text: {err}")
        return None
    header = [h.strip() for h in header]
    if len(header) == 1:
        others = [d for d in COMMON_DELIMITERS if d != dialect.delimiter and d in header[0]]
        found = f"; it looks delimited by {others[0]!r}" if others else ""
        issues.add(
            name,
            HEADER_LINE,
            None,
            f"the header has a single column{found}, but dialect {dialect.name!r} "
            f"expects {dialect.delimiter!r} as delimiter",
        )
        return None
    seen: dict[str, int] = {}
    for h in header:
        seen[h] = seen.get(h, 0) + 1
    for h, count in seen.items():
        if count > 1:
            issues.add(name, HEADER_LINE, h, f"the column name appears {count} times")
    table = RawTable(name, header, [], [])
    for row, line in zip(rows, lines):
        if len(row) != len(header):
            issues.add(
                name,
                line,
                None,
                f"the row has {len(row)} fields but the header has {len(header)} "
                f"(a stray or missing {dialect.delimiter!r}?)",
            )
            continue
        table.rows.append(row)
        table.lines.append(line)
    if not rows:
        issues.add(name, HEADER_LINE + 1, None, "no data rows after the header")
        return None
    return table


def _parse_number(raw: str, decimal: str) -> float | None:
    """A finite float from text with the given decimal mark, or None when it is not one."""
    text = raw.strip()
    if decimal == ",":
        if "." in text:
            return None
        text = text.replace(",", ".")
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _parse_column(
    raw: list[str],
    lines: list[int],
    var: Variable,
    export_name: str,
    layout: TableLayout,
    dialect: Dialect,
    file: str,
    issues: IssueCollector,
) -> list:
    """Parse one column's cells into canonical values (floats, strings or None)."""
    missing = set(dialect.missing)
    decode = {v: k for k, v in layout.codes.get(var.name, {}).items()}
    factor = layout.factor(var.name)
    out: list = []
    for cell, line in zip(raw, lines):
        text = cell.strip()
        if text in missing:
            out.append(None)
            continue
        if var.kind in ("id", "text"):
            out.append(text)
        elif var.kind == "category":
            value = decode.get(text, text if not decode else None)
            if value is None or (var.categories and value not in var.categories):
                allowed = sorted(decode) if decode else list(var.categories)
                shown = ", ".join(allowed[:12]) + (", ..." if len(allowed) > 12 else "")
                issues.add(file, line, export_name, f"unknown category {text!r}; allowed: {shown}")
                value = None
            out.append(value)
        elif var.kind in ("binary", "event") and text in decode:
            out.append(float(decode[text]))
        else:
            number = _parse_number(text, dialect.decimal)
            if number is None:
                hint = ""
                if dialect.decimal == "," and "." in text:
                    hint = f" (dialect {dialect.name!r} uses ',' as decimal mark)"
                elif dialect.decimal == "." and "," in text:
                    hint = f" (dialect {dialect.name!r} uses '.' as decimal mark)"
                expected = "0 or 1" if var.kind in ("binary", "event") else "a number"
                issues.add(file, line, export_name, f"{text!r} is not {expected}{hint}")
                out.append(None)
                continue
            if factor != 1.0:
                number = float(f"{number / factor:.{CONVERSION_DIGITS}g}")
            out.append(number)
    return out


def parse_table(
    table: RawTable,
    layout: TableLayout,
    variables: tuple[Variable, ...],
    dialect: Dialect,
    issues: IssueCollector,
) -> tuple[pd.DataFrame, list[str]]:
    """Map a raw table onto canonical variables.

    Returns:
        (frame, extra_columns): canonical frame indexed by line number, with a column for
        every variable the export carries; exported columns fedheme does not know.
    """
    by_export = {layout.export_name(v.name): v for v in variables}
    present = {h: i for i, h in enumerate(table.header)}
    for var in variables:
        if var.required and layout.export_name(var.name) not in present:
            issues.add(table.file, HEADER_LINE, layout.export_name(var.name), "required column is missing")
    data = {}
    for export_name, index in present.items():
        var = by_export.get(export_name)
        if var is None:
            continue
        raw = [row[index] for row in table.rows]
        data[var.name] = _parse_column(raw, table.lines, var, export_name, layout, dialect, table.file, issues)
    frame = pd.DataFrame(data, index=pd.Index(table.lines, name="line"))
    extra = [h for h in table.header if h not in by_export]
    return frame, extra


def _typed(frame: pd.DataFrame, variables: dict[str, Variable]) -> pd.DataFrame:
    """Cast parsed columns: numbers to float64 (NaN missing), text to object (None missing)."""
    out = {}
    for name in frame.columns:
        if variables[name].kind in ("id", "text", "category"):
            out[name] = frame[name].astype(object).where(frame[name].notna(), None)
        else:
            out[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    return pd.DataFrame(out, index=frame.index)


def _schema_message(check: str, value, var: Variable, dialect_unit: str) -> str:
    """A data manager's message for one pandera failure case (check named as pandera names it)."""
    if var.kind == "time" and isinstance(value, (int, float)) and value < 0:
        return f"{var.label.lower()} {value:g} {var.unit} is negative"
    if check.startswith("in_range") and var.hard_range is not None:
        low, high = var.hard_range
        unit = f" {var.unit}" if var.unit else ""
        message = f"value {value:g}{unit} is outside the physiological range [{low:g}, {high:g}]{unit}"
        if dialect_unit and dialect_unit != var.unit:
            message += f" (after conversion from {dialect_unit}: is the column really in {dialect_unit}?)"
        elif var.unit in ("g/dL", "10^9/L", "fraction"):
            message += " (a unit mistake?)"
        return message
    if check.startswith("isin") and var.kind in ("binary", "event"):
        return f"{value:g} is not 0 or 1"
    if check.startswith("isin"):
        return f"unknown category {value!r}; allowed: {', '.join(var.categories)}"
    if "unique" in check:
        return f"duplicate patient ID {value!r}"
    if "nullable" in check:
        return "missing value in a column that must be filled"
    return f"failed check {check} with value {value!r}"


def apply_schema(
    frame: pd.DataFrame,
    schema,
    variables: dict[str, Variable],
    layout: TableLayout,
    file: str,
    issues: IssueCollector,
) -> None:
    """Run a pandera schema lazily and turn each failure case into an :class:`Issue`."""
    try:
        schema.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as err:
        cases = err.failure_cases
        first_line: dict[str, int] = {}
        if "patient_id" in frame.columns:
            for line, pid in frame["patient_id"].items():
                first_line.setdefault(pid, int(line))
        for case in cases.itertuples(index=False):
            column = case.column if isinstance(case.column, str) else None
            var = variables.get(column) if column else None
            index = case.index if case.index is not None and not pd.isna(case.index) else None
            line = int(index) if index is not None else HEADER_LINE
            export_name = layout.export_name(column) if column else None
            if var is None:
                issues.add(file, line, export_name, f"{case.check}: {case.failure_case}")
                continue
            unit = layout.units.get(column, "")
            message = _schema_message(str(case.check), case.failure_case, var, unit)
            if "unique" in str(case.check) and case.failure_case in first_line:
                first = first_line[case.failure_case]
                if first == line:
                    continue
                message += f" (first on line {first})"
            issues.add(file, line, export_name, message)


def _check_survival_pairs(frame: pd.DataFrame, layout: TableLayout, file: str, issues: IssueCollector) -> None:
    for time_col, event_col in SURVIVAL_ENDPOINTS.values():
        if time_col not in frame.columns or event_col not in frame.columns:
            continue
        only_time = frame[time_col].notna() & frame[event_col].isna()
        only_event = frame[event_col].notna() & frame[time_col].isna()
        for line in frame.index[only_time]:
            issues.add(file, int(line), layout.export_name(event_col), f"status missing while {layout.export_name(time_col)} is given")
        for line in frame.index[only_event]:
            issues.add(file, int(line), layout.export_name(time_col), f"time missing while {layout.export_name(event_col)} is given")


@dataclass
class SiteExport:
    """A validated, harmonised site export.

    Attributes:
        patients: one row per patient, every column of
            :data:`fedheme.standard.mds.HARMONISED_VARIABLES` (missing where not exported);
            index: the line number in the export.
        variants: one row per mutation (columns of ``VARIANT_VARIABLES``); index: line.
        sequenced_genes: genes whose column the export carries (the site's panel).
        extra_columns: exported columns fedheme does not harmonise (reported in QC).
    """

    patients: pd.DataFrame
    variants: pd.DataFrame
    sequenced_genes: list[str]
    extra_columns: list[str]


def derive_tp53(patients: pd.DataFrame, variants: pd.DataFrame) -> pd.DataFrame:
    """Add ``tp53_n_mut`` and ``tp53_max_vaf`` (missing where TP53 was not sequenced)."""
    tp53 = variants[variants["gene"] == "TP53"]
    counts = tp53.groupby("patient_id").size()
    max_vaf = tp53.groupby("patient_id")["vaf"].max()
    sequenced = patients[gene_column("TP53")].notna()
    n_mut = patients["patient_id"].map(counts).fillna(0.0)
    vaf = patients["patient_id"].map(max_vaf)
    vaf = vaf.where(patients["patient_id"].isin(max_vaf.index), 0.0)
    patients = patients.copy()
    patients["tp53_n_mut"] = n_mut.where(sequenced).astype("float64")
    patients["tp53_max_vaf"] = vaf.where(sequenced).astype("float64")
    return patients


def read_site_export(
    patients_path: str | Path,
    dialect: Dialect,
    variants_path: str | Path | None = None,
    max_errors: int = 50,
) -> SiteExport:
    """Read, check and harmonise one site's export.

    Args:
        patients_path: the patient table (one row per patient).
        dialect: how the site wrote it.
        variants_path: the variant table (one row per mutation), if the site has one.
        max_errors: stop collecting after this many problems.

    Raises:
        ExportValidationError: listing every problem (file, line, column, message).
    """
    issues = IssueCollector(max_errors)
    raw = read_delimited(patients_path, dialect, issues)
    if raw is None:
        issues.raise_if_any()
    frame, extra = parse_table(raw, dialect.patients, HARMONISED_VARIABLES, dialect, issues)
    sequenced = [g for g in frame.columns if g.startswith("mut_")]
    patients = _typed(frame, VARIABLES_BY_NAME).reindex(columns=[v.name for v in HARMONISED_VARIABLES])
    for var in HARMONISED_VARIABLES:
        if var.kind not in ("id", "text", "category"):
            patients[var.name] = patients[var.name].astype("float64")
    _check_survival_pairs(patients, dialect.patients, raw.file, issues)
    check_transplant_dates(patients, dialect.patients.export_name, raw.file, issues)

    variants = pd.DataFrame({v.name: pd.Series(dtype=object if v.kind in ("id", "text", "category") else "float64") for v in VARIANT_VARIABLES})
    if variants_path is not None:
        raw_variants = read_delimited(variants_path, dialect, issues)
        if raw_variants is not None:
            vframe, _ = parse_table(raw_variants, dialect.variants, VARIANT_VARIABLES, dialect, issues)
            variants = _typed(vframe, VARIANT_VARIABLES_BY_NAME).reindex(columns=[v.name for v in VARIANT_VARIABLES])
            known = set(patients["patient_id"].dropna())
            for line, pid in variants["patient_id"].items():
                if pid is not None and pid not in known:
                    issues.add(raw_variants.file, int(line), dialect.variants.export_name("patient_id"), f"patient ID {pid!r} is not in the patient table")
            apply_schema(variants, variant_schema(), VARIANT_VARIABLES_BY_NAME, dialect.variants, raw_variants.file, issues)

    patients = derive_tp53(patients, variants)
    apply_schema(patients, harmonised_schema(), VARIABLES_BY_NAME, dialect.patients, raw.file, issues)
    issues.raise_if_any()
    patients = censor_at_transplant(patients)  # from checked columns only
    genes = [g[len("mut_") :] for g in sequenced]
    return SiteExport(patients, variants, genes, extra)


__all__ = [
    "SiteExport",
    "derive_tp53",
    "read_delimited",
    "read_site_export",
]
