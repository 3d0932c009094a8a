"""Problems found in a site's files, each named by file, line (row) and column, collected
up to a limit and raised together, so a data manager can fix an export in one pass.
Shared by every disease kind's reading and by ``fedheme score``."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Issue:
    """One problem in an export. ``line`` is 1-based (1 = header); ``column`` is as exported."""

    file: str
    line: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = [self.file]
        if self.line is not None:
            # a parquet file has no text lines: its rows are numbered from 1
            where.append(f"{'row' if self.file.endswith('.parquet') else 'line'} {self.line}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        return ", ".join(where) + f": {self.message}"


class ExportValidationError(ValueError):
    """An export failed validation; ``issues`` lists every problem found (up to the limit)."""

    def __init__(self, issues: list[Issue], more: int = 0):
        self.issues = issues
        self.more = more
        lines = [str(i) for i in issues]
        if more:
            lines.append(f"... and {more} more problems (raise max_errors to see them)")
        super().__init__(f"{len(issues) + more} problem(s) found:\n" + "\n".join(lines))


@dataclass
class IssueCollector:
    """Collects issues up to ``max_errors``; counts the rest."""

    max_errors: int = 50
    issues: list[Issue] = field(default_factory=list)
    more: int = 0
    _cells: set = field(default_factory=set)

    def add(self, file: str, line: int | None, column: str | None, message: str) -> None:
        """Record a problem; a cell already reported (e.g. unparseable, hence missing) is not reported again."""
        if column is not None and line is not None:
            if (file, line, column) in self._cells:
                return
            self._cells.add((file, line, column))
        if len(self.issues) < self.max_errors:
            self.issues.append(Issue(file, line, column, message))
        else:
            self.more += 1

    def raise_if_any(self) -> None:
        if self.issues:
            ordered = sorted(self.issues, key=lambda i: (i.file, i.line or 0, i.column or ""))
            raise ExportValidationError(ordered, self.more)
