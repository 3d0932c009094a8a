"""The declared layout of a tabular disease (config ``kind: tabular``): its columns with
units and allowed ranges or levels, and its outcome (survival or binary endpoints)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    """One declared column: ``numeric`` (unit, [min, max]), ``binary`` or ``category`` (levels)."""

    name: str
    kind: str
    unit: str = ""
    low: float = -math.inf
    high: float = math.inf
    levels: tuple[str, ...] = ()
    required: bool = False


@dataclass(frozen=True)
class Endpoint:
    """An outcome: survival (time column in years, event column 0/1) or binary (event column)."""

    name: str
    kind: str
    event: str
    time: str | None = None


@dataclass(frozen=True)
class TabularSpec:
    """The declared layout of a tabular disease's site files."""

    columns: tuple[Column, ...]
    endpoints: tuple[Endpoint, ...]

    @classmethod
    def from_config(cls, disease: dict) -> "TabularSpec":
        columns = []
        for name, c in disease["columns"].items():
            kind = c["type"]
            low, high = c.get("range", [-math.inf, math.inf])
            columns.append(Column(name, kind, c.get("unit", ""), float(low), float(high), tuple(map(str, c.get("levels", ()))), bool(c.get("required", False))))
        outcome = disease["outcome"]
        endpoints = []
        for name, e in outcome["endpoints"].items():
            endpoints.append(Endpoint(name, outcome["type"], e["event"], e.get("time")))
        return cls(tuple(columns), tuple(endpoints))

    @property
    def outcome_columns(self) -> list[str]:
        return [c for e in self.endpoints for c in (e.time, e.event) if c]

    def endpoint(self, name: str) -> Endpoint:
        for e in self.endpoints:
            if e.name == name:
                return e
        raise KeyError(f"no endpoint {name!r}; declared: {[e.name for e in self.endpoints]}")
