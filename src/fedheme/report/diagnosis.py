"""The reclassification figure: WHO 2016 -> WHO 2022 and WHO 2022 -> ICC 2022 counts, from
the pooled cross-site table only (cells hidden at a site are not in its counts)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from fedheme.report.style import STYLE, save_figure


def _heatmap(ax, table: pd.DataFrame, rows: str, columns: str) -> None:
    matrix = table.pivot_table(index=rows, columns=columns, values="n", aggfunc="sum", fill_value=0)
    ax.imshow(matrix.to_numpy(dtype=float), aspect="auto", cmap="cividis", vmin=0)
    ax.set_xticks(np.arange(matrix.shape[1]), matrix.columns, rotation=45, ha="right")
    ax.set_yticks(np.arange(matrix.shape[0]), matrix.index)
    ax.set_xlabel(columns.replace("who2022", "WHO 2022").replace("icc2022", "ICC 2022"))
    ax.set_ylabel(rows.replace("who_2016", "WHO 2016").replace("who2022", "WHO 2022"))
    for (i, j), value in np.ndenumerate(matrix.to_numpy()):
        if value:
            ax.text(j, i, str(int(value)), ha="center", va="center", fontsize=5, color="white" if value < matrix.to_numpy().max() / 2 else "black")


def plot_reclassification(pooled: pd.DataFrame, png, pdf) -> None:
    """Two heat maps of patient counts: WHO 2016 by WHO 2022, and WHO 2022 by ICC 2022."""
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, 2, figsize=(10, 4.4))
        _heatmap(axes[0], pooled, "who_2016", "who2022")
        _heatmap(axes[1], pooled, "who2022", "icc2022")
        axes[0].set_title("WHO 2016 -> WHO 2022 (patients)")
        axes[1].set_title("WHO 2022 -> ICC 2022 (patients)")
        fig.tight_layout()
        save_figure(fig, png, pdf)
