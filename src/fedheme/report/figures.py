"""Validation figures, drawn from released tables only (metrics, calibration groups, life
tables, training losses): no patient row reaches a plot. Style and file writing come
from :mod:`fedheme.report.style` (Okabe-Ito colours, PNG and PDF without timestamps).

Each function takes the tidy table of one disease and writes ``png`` and ``pdf``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from fedheme.evaluation.lifetable import actuarial_survival
from fedheme.report.catalogue import FIGURE_NAMES
from fedheme.report.style import OKABE_ITO, STYLE, plt, save_figure

SCORE_STYLE = {"ipssr": ("IPSS-R", "#777777", "s"), "ipssm": ("IPSS-M", "#000000", "D"),
               "iss": ("ISS", "#999999", "s"), "riss": ("R-ISS", "#555555", "D"), "r2iss": ("R2-ISS", "#000000", "^"),
               "tcd_rule": ("TCD >= 200 cm/s", "#555555", "s"),
               "peripheral_blasts": ("peripheral-blast rule", "#777777", "s"), "oracle": ("oracle (true model)", OKABE_ITO[0], "*")}  # fmt: skip
STRATEGY_COLOURS = {"pooled": OKABE_ITO[7], "cox": OKABE_ITO[3], "sklearn": OKABE_ITO[3], "markers": OKABE_ITO[1], "local": OKABE_ITO[6],
                    "fedavg": OKABE_ITO[4], "fedprox": OKABE_ITO[2], "fedadam": OKABE_ITO[5]}  # fmt: skip
STRATEGY_NAMES = {"pooled": "pooled (no DP)", "cox": "Cox, lifelines (pooled, no DP)",
                  "sklearn": "logistic regression, scikit-learn (pooled, no DP)", "markers": "markers model (pooled)",
                  "local": "local only", "fedavg": "FedAvg", "fedprox": "FedProx", "fedadam": "FedAdam"}  # fmt: skip


METRIC_LABELS = {"harrell_c": "Harrell's C", "uno_c": "Uno's C", "ibs": "integrated Brier score", "auroc": "AUROC", "auprc": "AUPRC"}


def metric_label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric.replace("_", " "))


def epsilon_text(epsilon) -> str:
    if epsilon is None or (isinstance(epsilon, float) and math.isnan(epsilon)) or pd.isna(epsilon):
        return ""
    return "ε = ∞" if str(epsilon) == "inf" else f"ε = {epsilon}"


def run_label(strategy: str, epsilon) -> str:
    if strategy in SCORE_STYLE:
        return SCORE_STYLE[strategy][0]
    name = STRATEGY_NAMES.get(strategy, strategy)
    return name if strategy in ("pooled", "cox", "sklearn", "markers") else f"{name}, {epsilon_text(epsilon)}"


def _epsilon_value(epsilon) -> float:
    return math.inf if str(epsilon) == "inf" else float(epsilon)


def _runs(table: pd.DataFrame) -> list[tuple[str, object]]:
    """Distinct (strategy, epsilon): clinical scores first, then by strategy and decreasing epsilon."""
    order = list(SCORE_STYLE) + list(STRATEGY_COLOURS)
    runs = table[["strategy", "epsilon"]].drop_duplicates().itertuples(index=False)

    def key(run):
        strategy, epsilon = run
        rank = order.index(strategy) if strategy in order else len(order)
        return (rank, 0.0 if pd.isna(epsilon) else -_epsilon_value(epsilon))

    return sorted(((s, e) for s, e in runs), key=key)


def _seed_mean(rows: pd.DataFrame) -> pd.Series:
    """Mean over seeds of value and interval bounds."""
    return rows[["value", "ci_low", "ci_high"]].mean()


def plot_forest(metrics: pd.DataFrame, endpoint: str, png, pdf, metric: str = "harrell_c", design: str = "loso") -> None:
    """C-index with its 95% interval for every strategy at each held-out site and pooled;
    clinical scores drawn as grey/black markers."""
    table = metrics[(metrics["endpoint"] == endpoint) & (metrics["design"] == design) & (metrics["metric"] == metric)]
    sites = sorted(s for s in table["test_site"].unique() if s != "pooled") + ["pooled"]
    runs = _runs(table)
    height = 0.8 / max(len(runs), 1)
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(7.5, 1.2 + 0.55 * len(sites)), layout="constrained")
        for k, (strategy, epsilon) in enumerate(runs):
            rows = table[(table["strategy"] == strategy) & (table["epsilon"].fillna("") == ("" if pd.isna(epsilon) else epsilon))]
            label, colour, marker = SCORE_STYLE.get(strategy, (run_label(strategy, epsilon), STRATEGY_COLOURS.get(strategy, "#999999"), "o"))
            filled = strategy in SCORE_STYLE or str(epsilon) == "inf"
            for i, site in enumerate(sites):
                here = rows[rows["test_site"] == site]
                if here["value"].isna().all():
                    continue
                v = _seed_mean(here)
                y = len(sites) - 1 - i + 0.4 - (k + 0.5) * height
                ax.plot([v["ci_low"], v["ci_high"]], [y, y], color=colour, lw=1)
                ax.plot(v["value"], y, marker=marker, color=colour, ms=4, mfc=colour if filled else "white",
                        label=label if i == len(sites) - 1 else None, ls="none")  # fmt: skip
        ax.set_yticks(np.arange(len(sites)), [s if s != "pooled" else "pooled over sites" for s in reversed(sites)])
        ax.axhline(0.5, color="#cccccc", lw=0.6)
        ax.set_xlabel(f"{metric_label(metric)} (95% bootstrap interval)")
        ax.set_title(f"Leave-one-site-out {metric_label(metric)}, {endpoint.upper()}: each row a held-out site")
        ax.legend(frameon=False, fontsize=6, loc="upper left", bbox_to_anchor=(1, 1))
        save_figure(fig, png, pdf)


def plot_privacy_utility(metrics: pd.DataFrame, endpoint: str, png, pdf, metric: str = "harrell_c", design: str = "loso") -> None:
    """Pooled C-index against epsilon for each federated strategy (mean over seeds, bars:
    sd over seeds or, with one seed, the bootstrap interval), with the pooled non-private
    model and the clinical scores as horizontal references."""
    table = metrics[(metrics["endpoint"] == endpoint) & (metrics["design"] == design) & (metrics["metric"] == metric)
                    & (metrics["test_site"] == "pooled")]  # fmt: skip
    finite = sorted({_epsilon_value(e) for e in table["epsilon"].dropna()} - {math.inf})
    positions = {e: i for i, e in enumerate(finite)}
    positions[math.inf] = len(finite) + 0.5
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.5, 3.6), layout="constrained")
        shown = [s for s in ("fedavg", "fedprox", "fedadam", "local") if s in set(table["strategy"])]
        for k, strategy in enumerate(shown):
            rows = table[table["strategy"] == strategy]
            dodge = 0.08 * (k - (len(shown) - 1) / 2)  # strategies side by side, so equal values stay visible
            points = []
            for epsilon, here in rows.groupby("epsilon"):
                values = here["value"].dropna()
                if values.empty:
                    continue
                spread = (values.std(ddof=1),) * 2 if len(values) > 1 else (values.mean() - here["ci_low"].mean(), here["ci_high"].mean() - values.mean())
                points.append((positions[_epsilon_value(epsilon)] + dodge, values.mean(), spread))
            points.sort()
            x = [p[0] for p in points]
            ax.errorbar(x, [p[1] for p in points], yerr=np.array([p[2] for p in points]).T, marker="o", ms=4, capsize=3,
                        color=STRATEGY_COLOURS[strategy], label=STRATEGY_NAMES[strategy])  # fmt: skip
        references = [(s, STRATEGY_NAMES[s], STRATEGY_COLOURS[s], ls) for s, ls in (("pooled", "-"), ("cox", (0, (6, 2))))]
        styles = iter(["--", ":", "-.", (0, (1, 3)), (0, (5, 5))])
        references += [(s, SCORE_STYLE[s][0], SCORE_STYLE[s][1], next(styles)) for s in SCORE_STYLE if s in set(table["strategy"])]
        for strategy, label, colour, style in references:
            value = table.loc[table["strategy"] == strategy, "value"].mean()
            if np.isfinite(value):
                ax.axhline(value, color=colour, ls=style, lw=1, label=f"{label} ({value:.3f})")
        ax.set_xticks([positions[e] for e in finite] + [positions[math.inf]], [f"{e:g}" for e in finite] + ["∞ (no DP)"])
        ax.set_xlabel("per-site privacy budget ε of each run (public δ)")
        ax.set_ylabel(f"{metric_label(metric)}, pooled over held-out sites")
        ax.set_title(f"Privacy-utility, {endpoint.upper()}, leave one site out")
        ax.legend(frameon=False, fontsize=6, loc="upper left", bbox_to_anchor=(1, 1))
        save_figure(fig, png, pdf)


def plot_km_by_risk(life_tables: pd.DataFrame, endpoint: str, strategy: str, epsilon: str, min_at_risk: int, png, pdf, design: str = "loso") -> None:
    """Kaplan-Meier (actuarial) curves by predicted risk group of one model: combined over
    test sites (left) and per site (right, thin); curves end where fewer than
    ``min_at_risk`` patients are at risk."""
    table = life_tables[(life_tables["endpoint"] == endpoint) & (life_tables["design"] == design)
                        & (life_tables["strategy"] == strategy) & (life_tables["epsilon"].astype(str) == str(epsilon))]  # fmt: skip
    first_seed = sorted(table["seed"].astype(str).unique())[:1]
    table = table[table["seed"].astype(str).isin(first_seed)]
    groups = list(dict.fromkeys(sorted(table["risk_group"].unique(), key=_group_order)))
    colours = dict(zip(groups, (OKABE_ITO[2], OKABE_ITO[0], OKABE_ITO[5], OKABE_ITO[6], OKABE_ITO[4])))
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, 2, figsize=(8, 3.4), layout="constrained", sharey=True)
        for group in groups:
            curve = actuarial_survival(table[table["risk_group"] == group], min_at_risk)
            if len(curve):
                axes[0].step(np.r_[0, curve["end"]], np.r_[1, curve["survival"]], where="post", color=colours[group],
                             label=f"{group} (n = {int(curve['n_at_risk'].iloc[0])})")  # fmt: skip
            for _, site_rows in table[table["risk_group"] == group].groupby("test_site"):
                site_curve = actuarial_survival(site_rows, min_at_risk)
                if len(site_curve):
                    axes[1].step(np.r_[0, site_curve["end"]], np.r_[1, site_curve["survival"]], where="post", color=colours[group], lw=0.7, alpha=0.7)
        axes[0].set_title(f"a  Combined over test sites: {run_label(strategy, epsilon)}")
        axes[1].set_title("b  Each test site")
        for ax in axes:
            ax.set_xlabel("years")
            ax.set_ylim(0, 1.02)
        axes[0].set_ylabel(f"{endpoint.upper()} probability")
        axes[0].legend(frameon=False, fontsize=6, title="predicted risk", title_fontsize=6)
        fig.supxlabel(f"Curves stop where fewer than {min_at_risk} patients are at risk.", fontsize=6)
        save_figure(fig, png, pdf)


def _group_order(label: str) -> float:
    text = label.lstrip("<>=").split("-")[0].rstrip("%")
    try:
        value = float(text)
    except ValueError:
        return 0.0
    return value - (0.5 if label.startswith("<") else 0.0)


def plot_calibration(calibration: pd.DataFrame, endpoint: str, runs: list[tuple[str, str]], horizon: float | None, png, pdf, design: str = "loso") -> None:
    """Predicted against Kaplan-Meier observed risk at the horizon (``horizon`` None: a
    binary outcome, observed proportion), one point per risk group and test site (bars:
    bootstrap interval of the observed risk), one panel per run."""
    table = calibration[(calibration["endpoint"] == endpoint) & (calibration["design"] == design)]
    runs = [r for r in runs if ((table["strategy"] == r[0]) & (table["epsilon"].astype(str) == str(r[1]))).any()]
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, max(len(runs), 1), figsize=(max(2.9 * len(runs), 4.0), 3.6), layout="constrained", squeeze=False)
        for ax, (strategy, epsilon) in zip(axes[0], runs):
            rows = table[(table["strategy"] == strategy) & (table["epsilon"].astype(str) == str(epsilon))]
            rows = rows[rows["seed"].astype(str) == sorted(rows["seed"].astype(str).unique())[0]]
            ax.plot([0, 1], [0, 1], color="#bbbbbb", lw=0.8)
            ax.errorbar(rows["predicted_risk"], rows["observed_risk"],
                        yerr=[rows["observed_risk"] - rows["observed_low"], rows["observed_high"] - rows["observed_risk"]],
                        fmt="o", ms=2.5, lw=0.6, color=STRATEGY_COLOURS.get(strategy, "#555555"), alpha=0.8)  # fmt: skip
            ax.set_title(run_label(strategy, epsilon))
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
            ax.set_xlabel("predicted probability" if horizon is None else f"predicted {horizon:g}-year risk")
        axes[0][0].set_ylabel("observed proportion" if horizon is None else f"observed {horizon:g}-year risk (Kaplan-Meier)")
        when = "" if horizon is None else f" at {horizon:g} years"
        fig.suptitle(f"Calibration{when}, {endpoint.upper()}:\nrisk groups of each held-out site", fontsize=8)
        save_figure(fig, png, pdf)


def plot_convergence(rounds: pd.DataFrame, endpoint: str, png, pdf) -> None:
    """Norm of the global model's update by round for each strategy and epsilon, averaged
    over folds and seeds (local-only: over its site models). The update is what the
    server sees (post-processing of DP updates); a DP run's training loss is not released."""
    table = rounds[rounds["endpoint"] == endpoint]
    epsilons = sorted(table["epsilon"].astype(str).unique(), key=lambda e: -_epsilon_value(e))
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(epsilons), figsize=(3.2 * len(epsilons), 3), layout="constrained", sharey=True, squeeze=False)
        for ax, epsilon in zip(axes[0], epsilons):
            rows = table[table["epsilon"].astype(str) == epsilon]
            for strategy, here in rows.groupby("strategy", sort=False):
                curve = here.groupby("round")["update_norm"].mean()
                ax.plot(curve.index, curve.to_numpy(), color=STRATEGY_COLOURS.get(strategy, "#555555"), lw=1, label=STRATEGY_NAMES.get(strategy, strategy))
            ax.set_title(epsilon_text(epsilon))
            ax.set_xlabel("round")
        axes[0][0].set_ylabel("L2 norm of the global update")
        for ax in axes[0]:
            ax.set_yscale("log")
        handles = {label: h for ax in axes[0] for h, label in zip(*ax.get_legend_handles_labels())}
        axes[0][0].legend(handles.values(), handles.keys(), frameon=False, fontsize=6)
        fig.suptitle(f"Convergence, {endpoint.upper()}: mean over folds and seeds", fontsize=8)
        save_figure(fig, png, pdf)


def draw_figure(name: str, table: pd.DataFrame, *, endpoint: str, binary: bool, epsilons: list[float], strategy: str,
                calibration_years: float, min_cell_count: int, png, pdf) -> None:  # fmt: skip
    """Draw the figure ``name`` (one of :data:`fedheme.report.catalogue.FIGURES`) of one
    disease from its released table.

    Args:
        epsilons: the training grid's budgets; the smallest finite one is the private run shown.
        strategy: the federated strategy of the Kaplan-Meier and calibration figures.
        calibration_years: horizon of the calibration (survival endpoints).
    """
    metric = "auroc" if binary else "harrell_c"
    finite = sorted(e for e in epsilons if math.isfinite(e))
    private = f"{finite[0]:g}" if finite else "inf"
    if name == "forest_cindex":
        plot_forest(table, endpoint, png, pdf, metric=metric)
    elif name == "privacy_utility":
        plot_privacy_utility(table, endpoint, png, pdf, metric=metric)
    elif name == "km_risk_groups":
        plot_km_by_risk(table, endpoint, strategy, private, min_cell_count, png, pdf)
    elif name == "calibration":
        # the sites release calibration groups of one declared model (fedheme.evaluation.tables)
        plot_calibration(table, endpoint, [(strategy, private)], None if binary else calibration_years, png, pdf)
    elif name == "convergence":
        plot_convergence(table, endpoint, png, pdf)
    else:
        raise ValueError(f"unknown figure {name!r}; choose one of {FIGURE_NAMES}")
