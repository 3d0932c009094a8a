"""Export dialects: how one hospital writes its tables (delimiter, decimal mark, encoding,
column names, units and codes), and the conversion between a dialect and the harmonised form.

A dialect is a small YAML file. The built-in ones live in ``fedheme/data/iwgpm/dialect_specs/``; a
site with its own layout passes the path of its own YAML file instead of a name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from fedheme.standard.mds_catalogue import CNA_EVENTS, PANEL_GENES
from fedheme.standard.mds import (
    VARIABLES_BY_NAME,
    VARIANT_VARIABLES_BY_NAME,
    cna_column,
    gene_column,
)

#: Canonical variable -> {unit: factor}, where value_in_unit = canonical_value * factor.
UNIT_FACTORS: dict[str, dict[str, float]] = {
    "hb_g_dl": {"g/dL": 1.0, "g/L": 10.0, "mmol/L": 0.6206},
    "plt_1e9_l": {"10^9/L": 1.0, "/uL": 1000.0},
    "wbc_1e9_l": {"10^9/L": 1.0, "/uL": 1000.0},
    "anc_1e9_l": {"10^9/L": 1.0, "/uL": 1000.0},
    "monocytes_1e9_l": {"10^9/L": 1.0, "/uL": 1000.0},
    "vaf": {"fraction": 1.0, "%": 100.0},
}


#: Significant digits kept through a unit conversion, both ways: far finer than any
#: measurement, and coarse enough to undo the last-bit error of the multiplication.
CONVERSION_DIGITS = 12


class DialectError(ValueError):
    """A dialect name or file that cannot be used."""


@dataclass(frozen=True)
class TableLayout:
    """Column names, units and codes of one table in a dialect.

    ``columns`` maps canonical name -> exported name; a canonical name not in it is
    exported under its own name. ``units`` maps canonical name -> unit (a key of
    :data:`UNIT_FACTORS`). ``codes`` maps canonical name -> {canonical value: exported value}.
    """

    columns: dict[str, str] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    codes: dict[str, dict[str, str]] = field(default_factory=dict)

    def export_name(self, canonical: str) -> str:
        return self.columns.get(canonical, canonical)

    def factor(self, canonical: str) -> float:
        unit = self.units.get(canonical)
        return 1.0 if unit is None else UNIT_FACTORS[canonical][unit]


@dataclass(frozen=True)
class Dialect:
    """How one site writes its patient table and its variant table."""

    name: str
    description: str
    delimiter: str
    decimal: str
    encoding: str
    missing: tuple[str, ...]
    patients: TableLayout
    variants: TableLayout

    @property
    def missing_token(self) -> str:
        """What this dialect writes for a missing value."""
        return self.missing[0]

    def unit(self, canonical: str) -> str:
        """The unit this dialect uses for a canonical variable of the patient table."""
        return self.patients.units.get(canonical, VARIABLES_BY_NAME[canonical].unit)


def _check_units(where: str, units: dict[str, str]) -> None:
    for var, unit in units.items():
        if var not in UNIT_FACTORS or unit not in UNIT_FACTORS[var]:
            known = {k: sorted(v) for k, v in UNIT_FACTORS.items()}
            raise DialectError(f"{where}: unit {unit!r} for {var!r} is not supported; known: {known}")


def _patient_columns(spec: dict) -> dict[str, str]:
    columns = dict(spec.get("columns") or {})
    gene_pattern = spec.get("gene_column", "mut_{gene}")
    cna_pattern = spec.get("cna_column", "cna_{event}")
    for gene in PANEL_GENES:
        columns.setdefault(gene_column(gene), gene_pattern.format(gene=gene))
    for event in CNA_EVENTS:
        columns.setdefault(cna_column(event), cna_pattern.format(event=event))
    return columns


def dialect_from_mapping(spec: dict, where: str = "dialect") -> Dialect:
    """Build a :class:`Dialect` from a parsed YAML mapping, checking every name in it."""
    for key in ("name", "delimiter", "decimal", "encoding"):
        if key not in spec:
            raise DialectError(f"{where}: missing key {key!r}")
    if len(spec["delimiter"]) != 1:
        raise DialectError(f"{where}: delimiter must be one character, got {spec['delimiter']!r}")
    if spec["decimal"] not in (".", ","):
        raise DialectError(f"{where}: decimal must be '.' or ','")
    if spec["decimal"] == spec["delimiter"]:
        raise DialectError(f"{where}: decimal mark and delimiter are both {spec['decimal']!r}")
    columns = _patient_columns(spec)
    unknown = sorted(set(columns) - set(VARIABLES_BY_NAME))
    if unknown:
        raise DialectError(f"{where}: unknown harmonised variables in columns: {unknown}")
    units = dict(spec.get("units") or {})
    _check_units(where, units)
    codes = {k: {str(a): str(b) for a, b in v.items()} for k, v in (spec.get("codes") or {}).items()}
    variant_spec = spec.get("variants") or {}
    variant_columns = dict(variant_spec.get("columns") or {})
    unknown = sorted(set(variant_columns) - set(VARIANT_VARIABLES_BY_NAME))
    if unknown:
        raise DialectError(f"{where}: unknown variant variables: {unknown}")
    variant_units = dict(variant_spec.get("units") or {})
    _check_units(where, variant_units)
    exported = list(columns.values())
    if len(set(exported)) != len(exported):
        raise DialectError(f"{where}: two variables are exported under the same column name")
    return Dialect(
        name=spec["name"],
        description=spec.get("description", ""),
        delimiter=spec["delimiter"],
        decimal=spec["decimal"],
        encoding=spec["encoding"],
        missing=tuple(str(m) for m in spec.get("missing", [""])),
        patients=TableLayout(columns, units, codes),
        variants=TableLayout(variant_columns, variant_units, {}),
    )


def builtin_dialects() -> list[str]:
    """Names of the dialects shipped with fedheme."""
    folder = resources.files("fedheme.data.iwgpm") / "dialect_specs"
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_dialect(name_or_path: str | Path) -> Dialect:
    """Load a built-in dialect by name, or a dialect YAML file by path."""
    text = str(name_or_path)
    if text in builtin_dialects():
        source = resources.files("fedheme.data.iwgpm") / "dialect_specs" / f"{text}.yaml"
        where = f"built-in dialect {text!r}"
    elif text.endswith((".yaml", ".yml")) and Path(text).is_file():
        source, where = Path(text), text
    else:
        raise DialectError(
            f"unknown dialect {text!r}: use one of {builtin_dialects()} or the path of a dialect YAML file"
        )
    spec = yaml.safe_load(source.read_text(encoding="utf-8"))
    return dialect_from_mapping(spec, where)


def format_number(value: float, decimal: str, significant: int | None = None) -> str:
    """Text of a number with the dialect's decimal mark.

    Without ``significant`` the shortest text that reads back as the same float; with it,
    rounded to that many significant digits (used after a unit conversion, whose last
    binary digit is noise).
    """
    if significant is not None:
        value = float(f"{value:.{significant}g}")
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        text = str(int(value))
    else:
        text = repr(float(value))
    return text.replace(".", decimal) if decimal != "." else text


def export_frame(frame, layout: TableLayout, variables: dict, dialect: Dialect):
    """Write a canonical frame in a dialect: a frame of strings under the exported names.

    Args:
        frame: canonical DataFrame (columns a subset of ``variables``).
        layout: the dialect's layout for this table.
        variables: canonical name -> :class:`~fedheme.standard.mds.Variable`.
        dialect: the dialect (for decimal mark and missing token).
    """
    import pandas as pd

    def encoder(name: str):
        var, codes, factor = variables[name], layout.codes.get(name, {}), layout.factor(name)
        numeric = var.kind in ("numeric", "time", "binary", "event")

        def encode(x) -> str:
            if pd.isna(x):
                return dialect.missing_token
            if not numeric:
                return codes.get(str(x), str(x))
            if var.kind in ("binary", "event") and str(int(x)) in codes:
                return codes[str(int(x))]
            if factor == 1.0:
                return format_number(float(x), dialect.decimal)
            return format_number(float(x) * factor, dialect.decimal, CONVERSION_DIGITS)

        return encode

    out = {}
    for name in frame.columns:
        encode = encoder(name)
        out[layout.export_name(name)] = [encode(x) for x in frame[name].tolist()]
    return pd.DataFrame(out, index=frame.index)
