"""A site's privacy over the whole study: everything it released, composed.

Per-run epsilons (the ledger's ``epsilon``) hold for one run. An adversary holds every
release of the study, so for each site this module composes, with one Rényi-DP
accountant, every DP mechanism the site ran: each shared release once (many runs reuse
it) and every DP-SGD step of every run, fold, strategy, epsilon, seed and endpoint. The
total is recomputed independently with Google's ``dp-accounting`` (its RDP accountant and
its privacy-loss-distribution accountant) by :mod:`fedheme.privacy.independent`.

Releases without noise (runs with epsilon = inf, exact training releases, descriptive
aggregates, evaluation metrics in ``research`` mode) make the study total infinite for
that site: ``epsilon_study`` says so, beside ``epsilon_dp``, the composition of the DP
mechanisms alone. In ``deployment`` mode there are none: evaluation count tables are in
the ledger too, and ``epsilon_planned`` is the total planned before any job ran.
"""

from __future__ import annotations

import math

import pandas as pd

from fedheme.privacy.accounting import epsilon_of
from fedheme.privacy.independent import independent_epsilons
from fedheme.privacy.ledger import history_of, released_by

STUDY_COLUMNS = ["disease", "site", "runs", "dp_runs", "non_private_runs", "releases", "dp_sgd_steps", "delta",
                 "epsilon_dp", "epsilon_dp_rdp_dp_accounting", "epsilon_dp_pld_dp_accounting", "non_private",
                 "epsilon_study", "epsilon_planned"]  # fmt: skip
NON_PRIVATE_TRAINING = "non-private training"


def non_private_release_kinds(disease: dict, *, exact_releases: bool, audited: bool = False) -> list[str]:
    """The releases of every site's patients a disease's study makes without noise, besides
    the runs without DP (which the ledger lists): what makes a study total infinite.

    Args:
        disease: the disease's config block.
        exact_releases: whether the grid has exact training releases (any epsilon = inf run).
        audited: whether sites of the disease release privacy-audit figures (research mode).
    """
    kinds = ["exact training releases"] if exact_releases else []
    if disease.get("kind", "iwgpm") == "iwgpm":
        kinds.append("descriptive aggregates (site overview)")
        kinds.append("WHO 2016 / WHO 2022 / ICC cross-tabulation (suppressed)")
    kinds.append("evaluation releases (metrics, calibration groups, life tables)")
    if disease.get("treatment", {}).get("transplant"):
        kinds.append("transplant evaluation releases (validation, RMST by IPSS-M category)")
    if (disease.get("diagnosis") or {}).get("marrow_blasts"):
        kinds.append("marrow-blast classifier evaluation releases (metrics, calibration groups)")
    if audited:
        kinds.append("privacy audit figures (membership attack metrics and ROC points, canary bounds)")
    return kinds


def site_history(rows: pd.DataFrame) -> list:
    """The DP mechanisms of one site's ledger rows: each release once, every DP-SGD step."""
    releases = rows[released_by(rows) != ""].drop_duplicates(["release", "mechanism"])
    steps = rows[rows["mechanism"] == "dp-sgd"]
    return history_of(releases) + history_of(steps)


def study_budget(ledger: pd.DataFrame, non_private_releases: dict[str, list[str]], planned: dict[str, float] | None = None) -> pd.DataFrame:
    """One row per (disease, site): the composed epsilon of everything it released.

    Args:
        ledger: the study's ledger (every fold of every disease, training and evaluation).
        non_private_releases: disease -> the kinds of release made without noise for every
            site of that disease (besides the runs without DP, which the ledger lists).
        planned: ``<disease>/<site>`` -> the study epsilon planned before any job ran
            (``deployment`` mode; :mod:`fedheme.privacy.plan`); NaN where absent. A site
            whose clients skipped rounds (``client_dropout``) ran fewer steps than planned.
    """
    planned = planned or {}
    out = []
    for (disease, site), rows in ledger.groupby(["disease", "site"], sort=True):
        deltas = rows["delta"].unique()
        if len(deltas) != 1:
            raise ValueError(f"{disease} {site}: one public delta per study, the ledger has {sorted(deltas)}")
        delta = float(deltas[0])
        history = site_history(rows)
        exact_runs = rows.loc[rows["mechanism"] == NON_PRIVATE_TRAINING, "run"].nunique()
        kinds = list(non_private_releases.get(disease, []))
        if exact_runs:
            kinds.insert(0, f"{exact_runs} runs without DP (exact releases, plain SGD)")
        epsilon = epsilon_of(history, delta) if history else 0.0
        independent = independent_epsilons(history, delta)
        out.append({
            "disease": disease, "site": site, "runs": rows["run"].nunique(), "dp_runs": rows.loc[rows["mechanism"] == "dp-sgd", "run"].nunique(),
            "non_private_runs": exact_runs, "releases": rows.loc[released_by(rows) != "", "release"].nunique(),
            "dp_sgd_steps": int(rows.loc[rows["mechanism"] == "dp-sgd", "steps"].sum()), "delta": delta, "epsilon_dp": epsilon,
            "epsilon_dp_rdp_dp_accounting": independent["rdp"], "epsilon_dp_pld_dp_accounting": independent["pld"],
            "non_private": "; ".join(kinds), "epsilon_study": math.inf if kinds else epsilon,
            "epsilon_planned": planned.get(f"{disease}/{site}", math.nan),
        })  # fmt: skip
    return pd.DataFrame(out, columns=STUDY_COLUMNS)
