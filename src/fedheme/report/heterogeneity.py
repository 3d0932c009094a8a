"""The site-heterogeneity figure of an MDS network, drawn from the aggregates each site
released (small cells suppressed): no patient row reaches it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fedheme.report.overview import site_overview
from fedheme.report.style import OKABE_ITO, STYLE, SUPPRESSED_COLOUR, plt, save_figure
from fedheme.standard.mds import CLINICAL_VARIABLES, CYTO_IPSSR_CATEGORIES


def plot_site_heterogeneity(aggregates: list[dict], png: str | Path, pdf: str | Path, min_cell_count: int) -> None:
    """Sizes, age, event rates, cytogenetic case mix and missingness, one column per site.

    Args:
        aggregates: released aggregates (subset ``all``) of every site of one disease.
        png, pdf: output files.
        min_cell_count: the suppression threshold, quoted in the caption of grey cells.
    """
    overview = site_overview(aggregates)
    aggregates = sorted(aggregates, key=lambda a: a["site_id"])
    sites = overview["site_id"].tolist()
    x = np.arange(len(sites))
    with plt.rc_context(STYLE):
        fig = plt.figure(figsize=(11, 7.8), layout="constrained")
        grid = fig.add_gridspec(2, 4, height_ratios=[1, 1.3])

        ax = fig.add_subplot(grid[0, 0])
        ax.bar(x, overview["n"].fillna(0), color=OKABE_ITO[4])
        ax.set_title("a  Patients per site")
        ax.set_ylabel("patients")

        ax = fig.add_subplot(grid[0, 1])
        ax.errorbar(x, overview["age_mean"], yerr=overview["age_sd"], fmt="o", color=OKABE_ITO[5], capsize=3)
        ax.set_title("b  Age (mean ± sd)")
        ax.set_ylabel("years")

        ax = fig.add_subplot(grid[0, 2])
        endpoints = [c[: -len("_event_rate")] for c in overview.columns if c.endswith("_event_rate")]
        width = 0.8 / max(len(endpoints), 1)
        for i, endpoint in enumerate(endpoints):
            rates = overview[f"{endpoint}_event_rate"].astype(float)
            ax.bar(x + (i - (len(endpoints) - 1) / 2) * width, rates.fillna(0), width, color=OKABE_ITO[i], label=endpoint.upper())
            for j in np.flatnonzero(rates.isna().to_numpy()):
                ax.bar(x[j] + (i - (len(endpoints) - 1) / 2) * width, 1, width, color=SUPPRESSED_COLOUR, hatch="//")
        ax.set_ylim(0, 1)
        ax.set_title("c  Event rate by endpoint")
        ax.legend(frameon=False, fontsize=7)

        ax = fig.add_subplot(grid[0, 3])
        bottom = np.zeros(len(sites))
        cyto_colours = dict(zip(CYTO_IPSSR_CATEGORIES, (OKABE_ITO[2], OKABE_ITO[1], OKABE_ITO[3], OKABE_ITO[0], OKABE_ITO[5])))
        for category in CYTO_IPSSR_CATEGORIES + ("suppressed",) if all("cyto_ipssr" in a["categorical"] for a in aggregates) else ():
            shares = []
            for agg in aggregates:
                counts = agg["categorical"]["cyto_ipssr"]
                known = sum(v for v in counts.values() if v is not None)
                total = agg["n"] - agg["n_missing"]["cyto_ipssr"] if agg["n"] else 0
                value = (total - known) if category == "suppressed" else (counts.get(category) or 0)
                shares.append(value / total if total else 0.0)
            colour = SUPPRESSED_COLOUR if category == "suppressed" else cyto_colours[category]
            ax.bar(x, shares, bottom=bottom, color=colour, label=category)
            bottom += np.array(shares)
        if not all("cyto_ipssr" in a["categorical"] for a in aggregates):
            ax.text(0.5, 0.5, "not released\n(deployment: DP\nreleases only)", ha="center", va="center", transform=ax.transAxes)
        ax.set_title("d  IPSS-R cytogenetic mix")
        ax.legend(frameon=False, fontsize=6, loc="upper left", bbox_to_anchor=(1, 1))

        for axis in fig.axes:
            axis.set_xticks(x, sites, rotation=60, ha="right")

        ax = fig.add_subplot(grid[1, :])
        variables = [v for v in CLINICAL_VARIABLES if v.kind not in ("id",) and v.name != "sex"]
        names = [v.name for v in variables]
        genes = sorted({k for a in aggregates for k in a["n_missing"] if k.startswith("mut_")})
        columns = [v.label for v in variables] + ["Panel genes not sequenced"]
        matrix = np.full((len(aggregates), len(columns)), np.nan)
        for i, agg in enumerate(aggregates):
            if not agg["n"]:
                continue
            for j, name in enumerate(names):
                if name in agg["n_missing"]:
                    matrix[i, j] = 100 * max(agg["n_missing"][name], 0.0) / agg["n"]
            unsequenced = [agg["n_missing"][g] >= (agg["n"] / 2 if "source" in agg else agg["n"]) for g in genes]
            matrix[i, -1] = 100 * sum(unsequenced) / max(len(genes), 1)
        image = ax.imshow(matrix, aspect="auto", cmap="cividis", vmin=0, vmax=100)
        ax.set_yticks(np.arange(len(sites)), sites)
        ax.set_xticks(np.arange(len(columns)), columns, rotation=60, ha="right")
        ax.set_title("e  Missing values by site and variable (%); last column: share of panel genes a site did not sequence")
        fig.colorbar(image, ax=ax, fraction=0.02, pad=0.01, label="% missing")
        noisy = any("source" in a for a in aggregates)
        ax.set_xlabel(
            "Drawn from each site's DP training release (noisy counts; blank: not released)." if noisy else
            f"Drawn from aggregates released by each site; grey cells in (c) and (d) are suppressed "
            f"(count below {min_cell_count}).",
            fontsize=7,
            loc="left",
        )
        save_figure(fig, png, pdf)
