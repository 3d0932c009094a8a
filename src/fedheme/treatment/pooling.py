"""Cross-site tables of the transplant study, from released files only: the transplant
counts by IPSS-M category, the test sites' validation and RMST rows pooled over sites and
then over seeds, and the transplant effect of the models trained on every site (their
weights are in the model bundle: no patient row).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from fedheme.evaluation.pooling import pool_sites, summarise_seeds

#: Columns of :func:`pool_transplant_releases`.
POOLED_COLUMNS = ["category", "sites", "sites_suppressed", "patients", "transplanted", "noise_sd_transplanted", "fraction_transplanted",
                  "note"]  # fmt: skip
#: Columns of :func:`over_seeds`.
SUMMARY_COLUMNS = ["endpoint", "category", "strategy", "epsilon", "metric", "seeds", "value", "sd_seeds", "ci_low", "ci_high",
                   "n", "events", "note"]  # fmt: skip
#: Columns of :func:`effect_table`.
EFFECT_COLUMNS = ["strategy", "epsilon", "term", "scale", "seeds", "coefficient", "sd_seeds", "ratio", "minus_pooled"]
#: What a coefficient is: the logistic-hazard models' per-bin log odds ratio, or the log
#: hazard ratio of lifelines' time-varying Cox model on the same coding.
SCALES = {"cox": "log hazard ratio (lifelines CoxTimeVaryingFitter)"}
LOG_ODDS = "log odds ratio of the per-bin hazard"


def pool_transplant_releases(releases: list[dict]) -> pd.DataFrame:
    """The cross-site table, from released files only: one row per released category.

    Columns (:data:`POOLED_COLUMNS`): ``sites``: sites whose two cells of the category were
    both released; ``sites_suppressed``: sites with a hidden cell there (left out of the
    row); ``patients`` and ``transplanted``: sums over the ``sites`` (released, so noisy
    for a noisy release: unbiased, and possibly negative); ``noise_sd_transplanted``: the sd
    of the noise in ``transplanted`` (the root sum of the sites' noise variances);
    ``fraction_transplanted``: transplanted / patients, clipped to [0, 1] (NaN without a
    positive patient count); ``note``: how many sites were left out, the sums then covering
    the others.
    """
    categories, columns = tuple(releases[0]["categories"]), tuple(releases[0]["columns"])
    for release in releases:
        if tuple(release["categories"]) != categories or tuple(release["columns"]) != columns:
            raise ValueError(f"site {release['site_id']}: a release of other categories or columns than {categories} x {columns}")
    out = []
    for category in categories:
        cells = [r["cells"][category] for r in releases]
        kept = [c for c in cells if all(c[col] is not None for col in columns)]
        patients = sum(c["not_transplanted"] + c["transplanted"] for c in kept)
        transplanted = sum(c["transplanted"] for c in kept)
        left_out = len(cells) - len(kept)
        note = f"{left_out} sites' cells suppressed (small cells): sums cover the other {len(kept)} sites" if left_out else ""
        noise = math.sqrt(sum(float(r.get("noise_multiplier", 0.0)) ** 2 for r, c in zip(releases, cells) if c in kept))
        fraction = min(max(transplanted / patients, 0.0), 1.0) if patients > 0 else math.nan
        out.append({"category": category, "sites": len(kept), "sites_suppressed": left_out, "patients": patients,
                    "transplanted": transplanted, "noise_sd_transplanted": noise, "fraction_transplanted": fraction,
                    "note": note})  # fmt: skip
    return pd.DataFrame(out, columns=POOLED_COLUMNS)


def pool_transplant_metrics(site_rows: list[pd.DataFrame], confidence: float) -> pd.DataFrame:
    """Every test site's released rows and one pooled row per (run, quantity): the
    weighted mean over sites with the standard error of independent site bootstraps
    (:func:`fedheme.evaluation.pooling.pool_sites`)."""
    rows = pd.concat(site_rows, ignore_index=True)
    pooled = pool_sites(rows, confidence)
    return pd.concat([rows.drop(columns="weight"), pooled], ignore_index=True)


def over_seeds(table: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """The pooled rows summarised over seeds (:func:`fedheme.evaluation.pooling.summarise_seeds`),
    with each row's IPSS-M category (the part of ``endpoint`` after ':')."""
    out = summarise_seeds(table, confidence, ["endpoint", "strategy", "epsilon", "metric"])
    out["category"] = out["endpoint"].str.partition(":")[2]
    return out[SUMMARY_COLUMNS]


def term_names(treatment: dict) -> list[str]:
    """Names of the coding's terms: each phase, then its interaction with each modifier."""
    return [name for phase in ("early", "late") for name in [phase] + [f"{phase} x {m}" for m in treatment["modifiers"]]]


def effect_table(bundle: dict) -> pd.DataFrame:
    """The transplant terms of every run of a bundle trained on every site (log odds ratios
    of the per-bin hazard; the time-varying Cox reference's are log hazard ratios), mean and
    sd over seeds (local-only models left out: one per site), and each mean's difference
    from the pooled non-private fit (the agreement of a federated or DP estimate with it)."""
    names = term_names(bundle["treatment"])
    by_model: dict[tuple[str, str], list[np.ndarray]] = {}
    for run in bundle["runs"]:
        if run["strategy"] == "local":
            continue
        by_model.setdefault((run["strategy"], str(run["epsilon"])), []).append(np.asarray(run["weights"]["treatment.weight"]).ravel())
    out = []
    pooled = np.vstack(by_model[("pooled", "inf")]).mean(axis=0) if ("pooled", "inf") in by_model else None
    for (strategy, epsilon), weights in sorted(by_model.items()):
        stack = np.vstack(weights)
        for i, name in enumerate(names):
            mean = float(stack[:, i].mean())
            sd = float(stack[:, i].std(ddof=1)) if len(stack) > 1 else 0.0
            out.append({"strategy": strategy, "epsilon": epsilon, "term": name, "scale": SCALES.get(strategy, LOG_ODDS),
                        "seeds": len(stack), "coefficient": mean, "sd_seeds": sd, "ratio": math.exp(mean),
                        "minus_pooled": mean - pooled[i] if pooled is not None else math.nan})  # fmt: skip
    return pd.DataFrame(out, columns=EFFECT_COLUMNS)
