"""The figures of the paper: one list, from which ``workflow/rules/figures.smk`` generates a
rule per figure and :func:`fedheme.report.figures.draw_figure` dispatches. Names only, no
plotting imports, so the workflow reads it at planning time."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FigureSpec:
    """One validation figure of a disease.

    Attributes:
        name: the figure (``results/<disease>/figures/<name>.{png,pdf}``; its caption is
            ``workflow/report/<name>.rst``).
        table: the released table under ``results/tables/`` it is drawn from.
        survival_only: drawn only for a survival endpoint (Kaplan-Meier curves).
    """

    name: str
    table: str
    survival_only: bool = False


#: Every validation figure, in the report's order.
FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec("forest_cindex", "metrics.tsv"),
    FigureSpec("privacy_utility", "metrics.tsv"),
    FigureSpec("km_risk_groups", "km_life_tables.tsv", survival_only=True),
    FigureSpec("calibration", "calibration.tsv"),
    FigureSpec("convergence", "convergence.tsv"),
)
FIGURE_NAMES = tuple(f.name for f in FIGURES)
