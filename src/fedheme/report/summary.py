"""``results/tables/summary.md``: the headline comparison of the metrics table, readable.

Per disease, endpoint and design, one row per strategy (clinical scores, local-only,
pooled, each federated strategy at each epsilon) with the metrics pooled over test
sites: mean over seeds, the spread over seeds (sd) when there are several, and the
bootstrap interval (averaged over seeds). A second table gives Harrell's C per test site.
"""

from __future__ import annotations

import math

import pandas as pd

HEADLINE_METRICS = ["harrell_c", "uno_c", "auc_2y", "ibs"]
BINARY_HEADLINE_METRICS = ["auroc", "auprc", "brier", "calibration_in_the_large"]
STRATEGY_ORDER = ["oracle", "ipssr", "ipssm", "iss", "riss", "r2iss", "tcd_rule", "markers", "local", "pooled", "cox", "fedavg", "fedprox", "fedadam"]


def _order(strategy: str, epsilon) -> tuple:
    rank = STRATEGY_ORDER.index(strategy) if strategy in STRATEGY_ORDER else len(STRATEGY_ORDER)
    eps = -math.inf if pd.isna(epsilon) else -float(epsilon)
    return (rank, eps, strategy)


def _cell(rows: pd.DataFrame) -> str:
    """'0.731 (0.702-0.760)', or with several seeds '0.731 ± 0.004 (0.702-0.760)'."""
    finite = rows[rows["value"].notna()]
    if finite.empty:
        reasons = sorted(set(rows["note"].dropna()))
        return "NA" + (f" ({reasons[0]})" if len(reasons) == 1 and len(reasons[0]) < 60 else "")
    mean = finite["value"].mean()
    text = f"{mean:.3f}"
    if len(finite) > 1:
        text += f" ± {finite['value'].std(ddof=1):.3f}"
    if finite["ci_low"].notna().all():
        text += f" ({finite['ci_low'].mean():.3f}–{finite['ci_high'].mean():.3f})"
    return text


def _label(strategy: str, epsilon) -> str:
    if pd.isna(epsilon):
        return strategy
    return f"{strategy}, ε = ∞" if epsilon == "inf" else f"{strategy}, ε = {epsilon}"


def privacy_markdown(study: pd.DataFrame) -> list[str]:
    """The study-level privacy section: per site, the runs, the composed epsilon of its DP
    mechanisms (and its independent recomputation) and the study total."""
    lines = ["## Privacy: epsilon per site over the whole study", "",
             "Each DP run meets its own target epsilon (the ledger's per-run rows). Over the study a site's "
             "releases compose: `epsilon_dp` is every DP mechanism of the site (each release once, every DP-SGD "
             "step of every run) composed by Rényi DP at the public delta, recomputed with Google's dp-accounting "
             "(RDP; PLD, tighter). `epsilon_study` is infinite where the site's patients were also released "
             "without noise (research mode: public or simulated data).", "",
             "| disease | site | runs (DP / none) | epsilon_dp | dp-accounting RDP / PLD | epsilon_study | released without noise |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    deployment = "epsilon_planned" in study and study["epsilon_planned"].notna().any()
    if deployment:
        lines[2] += (" This study ran in **deployment** mode: nothing about a site's patients left it without noise "
                     "(evaluation releases are noisy count tables, in the ledger), and `planned` is the total each site's "
                     "accountant was charged before any job ran (runs that skipped rounds spent less).")  # fmt: skip
        lines[4] = lines[4].replace("| released without noise |", "| planned |")
    for row in study.itertuples(index=False):
        last = f"{row.epsilon_planned:.2f}" if deployment else (row.non_private or "–")
        lines.append(f"| {row.disease} | {row.site} | {row.dp_runs} / {row.non_private_runs} | {row.epsilon_dp:.2f} | "
                     f"{row.epsilon_dp_rdp_dp_accounting:.2f} / {row.epsilon_dp_pld_dp_accounting:.2f} | "
                     f"{'∞' if math.isinf(row.epsilon_study) else f'{row.epsilon_study:.2f}'} | {last} |")  # fmt: skip
    return lines + [""]


def summary_markdown(table: pd.DataFrame, confidence: float = 0.95, study: pd.DataFrame | None = None) -> str:
    """Markdown summary of a tidy metrics table (see :func:`fedheme.evaluation.pooling.metrics_table`),
    with the study-level privacy of every site when ``study`` is given."""
    level = f"{confidence:.0%}"
    lines = [
        "# fedheme: validation summary",
        "",
        f"Pooled over test sites. Each cell: estimate, ± sd over seeds when there are several, and the {level} "
        "bootstrap interval (patients resampled within each test site). Harrell's and Uno's C and AUC: higher is "
        "better; integrated Brier score (IBS) and Brier score: lower is better; calibration in the large (predicted "
        "minus observed risk): 0 is calibrated. Clinical scores have no probabilities, so no IBS or Brier score. "
        "`oracle` is the true model of simulated data (the ceiling). Every row, per site too, is in `metrics.tsv`.",
        "",
    ]
    for (disease, endpoint, design), block in table.groupby(["disease", "endpoint", "design"], sort=True):
        pooled = block[block["test_site"] == "pooled"]
        binary = "auroc" in set(block["metric"])
        metrics = [m for m in (BINARY_HEADLINE_METRICS if binary else HEADLINE_METRICS) if m in set(pooled["metric"])]
        site_metric = "auroc" if binary else "harrell_c"
        title = "leave one site out" if design == "loso" else "within-site test splits"
        lines += [f"## {disease.upper()}, {endpoint.upper()}: {title}", ""]
        lines += ["| strategy | seeds | " + " | ".join(metrics) + " |", "|---|---|" + "---|" * len(metrics)]
        runs = pooled[["strategy", "epsilon"]].drop_duplicates()
        for strategy, epsilon in sorted(runs.itertuples(index=False), key=lambda r: _order(*r)):
            run = pooled[(pooled["strategy"] == strategy) & (pooled["epsilon"].fillna("") == ("" if pd.isna(epsilon) else epsilon))]
            seeds = run["seed"].dropna().nunique()
            cells = [_cell(run[run["metric"] == m]) for m in metrics]
            lines.append(f"| {_label(strategy, epsilon)} | {seeds or '–'} | " + " | ".join(cells) + " |")
        per_site = block[(block["metric"] == site_metric) & (block["test_site"] != "pooled")]
        sites = sorted(per_site["test_site"].unique())
        lines += ["", f"{'AUROC' if binary else 'Harrell' + chr(39) + 's C'} per test site ({design}):", ""]
        lines += ["| strategy | " + " | ".join(sites) + " |", "|---|" + "---|" * len(sites)]
        for strategy, epsilon in sorted(per_site[["strategy", "epsilon"]].drop_duplicates().itertuples(index=False), key=lambda r: _order(*r)):
            run = per_site[(per_site["strategy"] == strategy) & (per_site["epsilon"].fillna("") == ("" if pd.isna(epsilon) else epsilon))]
            cells = []
            for site in sites:
                here = run[run["test_site"] == site]
                cells.append("NA" if here["value"].isna().all() else f"{here['value'].mean():.3f}")
            lines.append(f"| {_label(strategy, epsilon)} | " + " | ".join(cells) + " |")
        lines.append("")
    if study is not None:
        lines += privacy_markdown(study)
    return "\n".join(lines)
