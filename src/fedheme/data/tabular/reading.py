"""Reading one site's CSV of a tabular disease (a cohort declared in config, see
:mod:`fedheme.standard.tabular`). This is how multiple myeloma and sickle cell disease run
(from simulated sites) and how a researcher brings a cohort of their own; an optional
``split`` column (train/test) is honoured instead of drawing one.

:func:`read_tabular_site` checks a site's file cell by cell and reports every problem
as ``FILE, line N, column 'NAME': message`` (all at once, up to a limit); nothing is
written when any is found.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import pandas as pd

from fedheme.data.issues import IssueCollector
from fedheme.data.splits import SPLITS
from fedheme.standard.tabular import TabularSpec

BINARY_TRUE = {"1", "1.0", "yes", "true", "y"}
BINARY_FALSE = {"0", "0.0", "no", "false", "n"}
MISSING = {"", "na", "nan", "null", "none", "."}


def _number(raw: str) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def read_tabular_site(path: str | Path, spec: TabularSpec, max_errors: int = 50) -> pd.DataFrame:
    """Read and check one site's CSV (comma, semicolon or tab separated; UTF-8).

    Returns:
        the patients, typed: ``patient_id``, the declared columns, the outcome columns,
        ``split`` when present, and the ``oracle_*`` columns of simulated sites.

    Raises:
        fedheme.data.iwgpm.validation.ExportValidationError: every problem found, with file, line
            and column.
    """
    path = Path(path)
    issues = IssueCollector(max_errors)
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        issues.add(file, None, None, f"not UTF-8 text ({err.reason} at byte {err.start})")
        issues.raise_if_any()
    except OSError as err:
        issues.add(file, None, None, f"cannot be read: {err.strerror}")
        issues.raise_if_any()
    if not text.strip():
        issues.add(file, None, None, "is empty")
        issues.raise_if_any()
    delimiter = csv.Sniffer().sniff(text.splitlines()[0], delimiters=",;\t").delimiter
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    header = [h.strip() for h in rows[0]]
    body = rows[1:]
    required = ["patient_id"] + spec.outcome_columns + [c.name for c in spec.columns if c.required]
    for name in required:
        if name not in header:
            issues.add(file, 1, name, "required column is missing")
    duplicated = sorted({h for h in header if header.count(h) > 1})
    for name in duplicated:
        issues.add(file, 1, name, "column appears more than once")
    issues.raise_if_any()
    index = {h: i for i, h in enumerate(header)}
    declared = {c.name: c for c in spec.columns}
    out: dict[str, list] = {name: [] for name in ["patient_id"] + [c.name for c in spec.columns] + spec.outcome_columns}
    if "split" in index:
        out["split"] = []
    truth = [h for h in header if h.startswith("oracle_")]  # simulated sites: the true model
    for name in truth:
        out[name] = []
    times = {e.time for e in spec.endpoints if e.time}
    events = {e.event for e in spec.endpoints}
    seen_ids: dict[str, int] = {}
    for line, row in enumerate(body, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            issues.add(file, line, None, f"has {len(row)} fields, the header has {len(header)}")
            continue
        cells = {h: row[i].strip() for h, i in index.items()}
        pid = cells["patient_id"]
        if not pid:
            issues.add(file, line, "patient_id", "is empty")
        elif pid in seen_ids:
            issues.add(file, line, "patient_id", f"{pid!r} already appears on line {seen_ids[pid]}")
        else:
            seen_ids[pid] = line
        out["patient_id"].append(pid)
        for name in [c.name for c in spec.columns] + spec.outcome_columns:
            raw = cells.get(name, "")
            value = None
            if raw.lower() in MISSING:
                if name in events or name in times:
                    issues.add(file, line, name, "outcome is missing")
            elif name in times:
                value = _number(raw)
                if value is None:
                    issues.add(file, line, name, f"{raw!r} is not a number (years)")
                elif value < 0:
                    issues.add(file, line, name, f"follow-up {value:g} years is negative")
            elif name in events or declared[name].kind == "binary":
                low = raw.lower()
                value = 1.0 if low in BINARY_TRUE else 0.0 if low in BINARY_FALSE else None
                if value is None:
                    issues.add(file, line, name, f"{raw!r} is not 0/1")
            elif declared[name].kind == "numeric":
                col = declared[name]
                value = _number(raw)
                if value is None:
                    issues.add(file, line, name, f"{raw!r} is not a number")
                elif not col.low <= value <= col.high:
                    unit = f" {col.unit}" if col.unit else ""
                    issues.add(file, line, name, f"{value:g}{unit} is outside the allowed range [{col.low:g}, {col.high:g}]{unit}")
                    value = None
            else:  # category
                col = declared[name]
                value = raw
                if raw not in col.levels:
                    issues.add(file, line, name, f"{raw!r} is not one of {list(col.levels)}")
                    value = None
            out[name].append(value)
        for name in truth:
            out[name].append(_number(cells[name]) if cells[name] else None)
        if "split" in index:
            split = cells["split"].lower()
            if split not in SPLITS:
                issues.add(file, line, "split", f"{cells['split']!r} is not 'train' or 'test'")
            out["split"].append(split)
    if not seen_ids:
        issues.add(file, None, None, "has no patient rows")
    issues.raise_if_any()
    frame = pd.DataFrame(out)
    for c in spec.columns:
        if c.kind in ("numeric", "binary"):
            frame[c.name] = pd.to_numeric(frame[c.name]).astype(float)
    for name in spec.outcome_columns + truth:
        frame[name] = frame[name].astype(float)
    return frame


