"""The transplant figure: RMST gain by IPSS-M category, from the pooled summary only."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from fedheme.report.figures import run_label
from fedheme.report.style import OKABE_ITO, STYLE, save_figure


def plot_rmst_gain(summary: pd.DataFrame, *, tau: float, policies: list[str], categories: list[str], png, pdf) -> None:
    """One panel per policy: the gain in RMST over ``tau`` years against no transplant, per
    IPSS-M category, one marker per model (mean over seeds, interval of
    :func:`fedheme.treatment.pooling.over_seeds`); categories a site could not release
    (small cells at every site) are left empty."""
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(policies), figsize=(3.4 * len(policies), 2.9), sharey=True, squeeze=False)
        models = summary[["strategy", "epsilon"]].drop_duplicates().sort_values(["strategy", "epsilon"]).itertuples(index=False)
        models = [(s, e) for s, e in models if s != "ipssm"]
        width = 0.8 / max(len(models), 1)
        for ax, policy in zip(axes[0], policies):
            metric = f"rmst_gain_{tau:g}y_{policy}"
            for i, (strategy, epsilon) in enumerate(models):
                rows = summary[(summary["metric"] == metric) & (summary["strategy"] == strategy) & (summary["epsilon"] == epsilon)]
                rows = rows.set_index("category").reindex(categories)
                x = np.arange(len(categories)) - 0.4 + width * (i + 0.5)
                value = rows["value"].to_numpy(dtype=float)
                err = np.vstack([value - rows["ci_low"].to_numpy(dtype=float), rows["ci_high"].to_numpy(dtype=float) - value])
                ax.errorbar(x, value, yerr=err, fmt="o", ms=3, lw=1, color=OKABE_ITO[i % len(OKABE_ITO)], label=run_label(strategy, epsilon))
            ax.axhline(0.0, color="grey", lw=0.6)
            ax.set_xticks(np.arange(len(categories)), [c.replace("Moderate-", "Mod-") for c in categories], rotation=35, ha="right")
            ax.set_title(f"transplant {policy.replace('_', ' ')} vs never")
            ax.set_xlabel("IPSS-M category")
        axes[0][0].set_ylabel(f"RMST gain over {tau:g} years (years)")
        axes[0][-1].legend(fontsize=6, frameon=False, loc="upper left")
        fig.tight_layout()
        save_figure(fig, png, pdf)
