"""Figures drawn from released, suppressed aggregates only: no patient row reaches a plot.

One style for every fedheme figure: the Okabe-Ito colour-blind-safe palette, cividis for
heat maps, and PNG/PDF files without timestamps so identical inputs give identical bytes.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from fedheme.io import atomic_path  # noqa: E402

OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000")
SUPPRESSED_COLOUR = "#BBBBBB"
STYLE = {
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.dpi": 150,
    "svg.hashsalt": "fedheme",
}


def save_figure(fig: plt.Figure, png: str | Path, pdf: str | Path) -> None:
    """Write a figure as PNG and PDF atomically, with no timestamps in either file."""
    with atomic_path(png) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
    with atomic_path(pdf) as tmp:
        fig.savefig(tmp, format="pdf", metadata={"CreationDate": None, "ModDate": None, "Producer": None})
    plt.close(fig)


