"""The reclassification figure: WHO 2016 -> WHO 2022 and WHO 2022 -> ICC 2022 counts, from
the pooled cross-site table only (cells hidden at a site are not in its counts)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from fedheme.report.style import OKABE_ITO, STYLE, save_figure


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


#: The metrics of the marrow-blast figure, in panel order (the binary ones at the first cut).
MARROW_PANELS = (("auroc_ge{cut}", "AUROC, marrow blasts >= {cut}%"), ("macro_auroc", "macro one-vs-rest AUROC"),
                 ("balanced_accuracy", "balanced accuracy"))  # fmt: skip


def plot_marrow_blasts(summary: pd.DataFrame, *, cuts: list[float], png, pdf) -> None:
    """One panel per metric (:data:`MARROW_PANELS`): each model's pooled value over test sites,
    mean over seeds with its interval (:func:`fedheme.diagnosis.marrow_pooling.marrow_summary`),
    for leave-one-site-out and within-site validation side by side; the dotted line is
    chance (AUROC 0.5, balanced accuracy one over the number of classes)."""
    from fedheme.report.figures import run_label

    designs = [d for d in ("loso", "within") if d in set(summary["design"])]
    models = summary[["strategy", "epsilon"]].drop_duplicates().sort_values(["strategy", "epsilon"]).itertuples(index=False)
    models = sorted(models, key=lambda m: (m[0] != "peripheral_blasts", m[0], str(m[1])))
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(MARROW_PANELS), figsize=(3.3 * len(MARROW_PANELS), 2.9), squeeze=False)
        for ax, (metric, title) in zip(axes[0], MARROW_PANELS):
            metric, title = metric.format(cut=f"{float(cuts[0]):g}"), title.format(cut=f"{float(cuts[0]):g}")
            width = 0.8 / max(len(models), 1)
            for i, (strategy, epsilon) in enumerate(models):
                rows = summary[(summary["metric"] == metric) & (summary["strategy"] == strategy) & (summary["epsilon"] == epsilon)]
                rows = rows.set_index("design").reindex(designs)
                value = rows["value"].to_numpy(dtype=float)
                err = np.vstack([value - rows["ci_low"].to_numpy(dtype=float), rows["ci_high"].to_numpy(dtype=float) - value])
                x = np.arange(len(designs)) - 0.4 + width * (i + 0.5)
                ax.errorbar(x, value, yerr=err, fmt="o", ms=3, lw=1, color=OKABE_ITO[i % len(OKABE_ITO)], label=run_label(strategy, epsilon))
            ax.axhline(0.5 if "auroc" in metric else 1.0 / (len(cuts) + 1), color="grey", lw=0.6, ls=":")
            ax.set_xticks(np.arange(len(designs)), ["leave one site out" if d == "loso" else "within sites" for d in designs])
            ax.set_title(title)
        axes[0][0].legend(fontsize=5.5, frameon=False, loc="lower left")
        fig.tight_layout()
        save_figure(fig, png, pdf)
