"""The privacy-audit figure, from the sites' released audit figures only: the LiRA attack's
ROC curve per model and epsilon (log false positive rate), and each site's empirical epsilon
lower bound from the canaries against the epsilon its accountant gives the same mechanism."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from fedheme.report.style import OKABE_ITO, STYLE, save_figure


def _epsilon(label) -> float:
    return math.inf if str(label) == "inf" else float(label)


def plot_audit(table: pd.DataFrame, roc: pd.DataFrame, *, png, pdf) -> None:
    """Left: TPR against FPR of LiRA at the first audited site, one curve per (model,
    epsilon), with chance as the diagonal. Right: per site and finite epsilon, the canary's
    empirical lower bound against the accounted epsilon; a point above the diagonal would be
    a bug (the lower bound must stay below what the accountant proves)."""
    with plt.rc_context(STYLE):
        fig, (left, right) = plt.subplots(1, 2, figsize=(7.2, 3.0))
        site = sorted(roc["site"].unique())[0]
        curves = roc[(roc["site"] == site) & (roc["attack"] == "lira")]
        for i, ((model, epsilon), rows) in enumerate(sorted(curves.groupby(["model", "epsilon"]), key=lambda g: (g[0][0], -_epsilon(g[0][1])))):
            label = f"{'FedAvg' if model != 'local' else 'local only'}, " + ("no DP" if str(epsilon) == "inf" else f"ε = {epsilon}")
            left.plot(rows["fpr"], rows["tpr"], marker="o", ms=2, lw=1, color=OKABE_ITO[i % len(OKABE_ITO)], label=label)
        grid = np.logspace(-3, 0, 50)
        left.plot(grid, grid, color="grey", lw=0.6, ls=":")
        left.set_xscale("log")
        left.set_yscale("log")
        left.set_xlabel("false positive rate")
        left.set_ylabel("true positive rate")
        left.set_title(f"membership (LiRA), {site}")
        left.legend(fontsize=6, frameon=False, loc="lower right")
        canaries = table[table["test"] == "canary"].pivot_table(index=["site", "epsilon"], columns="metric", values="value", aggfunc="first")
        canaries = canaries[np.isfinite(canaries["epsilon_accounted"].astype(float))]
        top = max([1.0] + canaries[["epsilon_accounted", "epsilon_lower_bound"]].astype(float).to_numpy().ravel().tolist()) * 1.1
        right.plot([0, top], [0, top], color="grey", lw=0.6, ls=":")
        for i, (site_name, rows) in enumerate(canaries.groupby(level="site")):
            right.scatter(rows["epsilon_accounted"].astype(float), rows["epsilon_lower_bound"].astype(float), s=18, clip_on=False, zorder=3,
                          color=OKABE_ITO[i % len(OKABE_ITO)], label=site_name)  # fmt: skip
        detectable = canaries["epsilon_detectable"].astype(float)
        if len(detectable):
            right.axhline(float(detectable.min()), color="grey", lw=0.8, ls="--", label="most the runs can show")
        right.set_xlim(0, top)
        right.set_ylim(0, top)
        right.set_xlabel("accounted epsilon (Opacus RDP)")
        right.set_ylabel("empirical lower bound (canaries)")
        right.set_title("canary audit")
        right.legend(fontsize=6, frameon=False, loc="upper left")
        fig.tight_layout()
        save_figure(fig, png, pdf)
