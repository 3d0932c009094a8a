"""MDS risk scores: IPSS-R and age-adjusted IPSS-R (Greenberg et al., Blood 2012) and IPSS-M
(Bernard et al., NEJM Evidence 2022), whose inputs are derived here from harmonised raw
data (mutations, VAF, chromosome 17 status, copy-number events). IPSS-M coefficients are
those of the publication's supplement, in ``fedheme/scores/data/ipssm_betas.tsv``.

All functions take a DataFrame with harmonised column names (one row per patient) and
return a DataFrame with the same index. Missing inputs give a missing score, except in
IPSS-M, which has published rules for them (mean, best and worst scenarios).
"""

from __future__ import annotations

import math
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

from fedheme.scores.common import categorise, numeric_column
from fedheme.standard.mds import CYTO_IPSSR_CATEGORIES, gene_column

IPSSR_CATEGORIES = ("Very-Low", "Low", "Int", "High", "Very-High")
IPSSR_CUTS = (1.5, 3.0, 4.5, 6.0)  # upper bounds (inclusive) of the first four groups
IPSSM_CATEGORIES = ("Very-Low", "Low", "Moderate-Low", "Moderate-High", "High", "Very-High")
IPSSM_CUTS = (-1.5, -0.5, 0.0, 0.5, 1.5)

#: The 15 genes of IPSS-M's residual-gene count Nres2.
NRES2_GENES = (
    "BCOR", "BCORL1", "CEBPA", "ETNK1", "GATA2", "GNB1", "IDH1", "NF1", "PHF6", "PPM1D",
    "PRPF8", "PTPN11", "SETBP1", "STAG2", "WT1",
)  # fmt: skip
#: Genes whose mutation excludes SF3B1_alpha.
SF3B1_ALPHA_EXCLUDERS = ("SRSF2", "STAG2", "BCOR", "BCORL1", "RUNX1", "NRAS")
#: Single-gene IPSS-M variables (harmonised column mut_<GENE>).
IPSSM_GENES = (
    "ASXL1", "SRSF2", "DNMT3A", "RUNX1", "U2AF1", "EZH2", "CBL", "NRAS", "IDH2", "KRAS",
    "MLL_PTD", "ETV6", "NPM1",
)  # fmt: skip
TP53_LOH_STATES = ("del", "cnloh")
TP53_VAF_LOH = 0.55


@lru_cache(maxsize=None)
def ipssm_betas() -> pd.DataFrame:
    """IPSS-M coefficients: index variable; columns coefficient, reference_mean, worst, best."""
    path = resources.files("fedheme.scores") / "data" / "ipssm_betas.tsv"
    with path.open() as handle:
        return pd.read_csv(handle, sep="\t", index_col="variable")


def _points(value: pd.Series, bins: list[tuple[float, float]]) -> pd.Series:
    """Points for the first (upper_bound_exclusive, points) bin the value falls under."""
    out = pd.Series(np.nan, index=value.index)
    for upper, pts in reversed(bins):
        out = out.mask(value < upper, pts)
    return out.where(value.notna())


def cyto_points(frame: pd.DataFrame) -> pd.Series:
    """IPSS-R cytogenetic category as 0 (very good) .. 4 (very poor); missing stays missing."""
    return frame["cyto_ipssr"].map({c: float(i) for i, c in enumerate(CYTO_IPSSR_CATEGORIES)}).astype(float)


def ipssr(frame: pd.DataFrame) -> pd.DataFrame:
    """IPSS-R and age-adjusted IPSS-R.

    Inputs: cyto_ipssr, bm_blast_pct (%), hb_g_dl (g/dL), plt_1e9_l (10^9/L),
    anc_1e9_l (10^9/L), age (years; for IPSS-RA only).

    Returns:
        columns ipssr_score, ipssr_category, ipssra_score, ipssra_category.
    """
    blasts = numeric_column(frame, "bm_blast_pct")
    blast_pts = pd.Series(np.select([blasts <= 2, blasts < 5, blasts <= 10], [0.0, 1.0, 2.0], 3.0), index=frame.index)
    hb = numeric_column(frame, "hb_g_dl")
    plt_ = numeric_column(frame, "plt_1e9_l")
    anc = numeric_column(frame, "anc_1e9_l")
    score = (
        cyto_points(frame)
        + blast_pts.where(blasts.notna())
        + _points(hb, [(8, 1.5), (10, 1.0), (math.inf, 0.0)])
        + _points(plt_, [(50, 1.0), (100, 0.5), (math.inf, 0.0)])
        + _points(anc, [(0.8, 0.5), (math.inf, 0.0)])
    )
    age = numeric_column(frame, "age")
    adjusted = score + (age - 70) * (0.05 - score * 0.005)
    return pd.DataFrame(
        {
            "ipssr_score": score,
            "ipssr_category": categorise(score, IPSSR_CUTS, IPSSR_CATEGORIES),
            "ipssra_score": adjusted,
            "ipssra_category": categorise(adjusted.round(2), IPSSR_CUTS, IPSSR_CATEGORIES),
        },
        index=frame.index,
    )


def tp53_multihit(frame: pd.DataFrame) -> pd.Series:
    """TP53 multi-hit: two or more TP53 mutations, or one with loss of the other allele.

    Loss of the other allele is a 17p deletion or copy-neutral LOH (``chr17_status``) or
    a VAF above 0.55. Inputs: tp53_n_mut, tp53_max_vaf, chr17_status. Missing when TP53
    was not sequenced, or when one mutation's allele state cannot be told.
    """
    n_mut = numeric_column(frame, "tp53_n_mut")
    vaf = numeric_column(frame, "tp53_max_vaf")
    chr17 = frame["chr17_status"] if "chr17_status" in frame.columns else pd.Series(None, index=frame.index, dtype=object)
    loh = chr17.isin(TP53_LOH_STATES)
    high_vaf = vaf > TP53_VAF_LOH
    single_known = loh | high_vaf | (chr17.notna() & vaf.notna())
    out = pd.Series(np.nan, index=frame.index)
    out[n_mut == 0] = 0.0
    out[n_mut >= 2] = 1.0
    single = n_mut == 1
    out[single & single_known] = (loh | high_vaf)[single & single_known].astype(float)
    return out


def _all_zero(frame: pd.DataFrame, genes) -> tuple[pd.Series, pd.Series]:
    """(any mutated, all known and none mutated) over harmonised gene columns."""
    values = pd.concat([numeric_column(frame, gene_column(g)) for g in genes], axis=1)
    any_mut = (values == 1).any(axis=1)
    none = (values == 0).all(axis=1)
    return any_mut, none


def ipssm_variables(frame: pd.DataFrame) -> pd.DataFrame:
    """The 22 IPSS-M model variables from harmonised data (NaN where unknown), except Nres2.

    Returns a frame with columns named as in ``ipssm_betas().index`` (without Nres2).
    """
    v = pd.DataFrame(index=frame.index)
    v["CYTOVEC"] = cyto_points(frame)
    v["BLAST5"] = numeric_column(frame, "bm_blast_pct").clip(upper=20) / 5
    v["TRANSF_PLT100"] = numeric_column(frame, "plt_1e9_l").clip(upper=250) / 100
    v["HB1"] = numeric_column(frame, "hb_g_dl")
    sf3b1 = numeric_column(frame, gene_column("SF3B1"))
    del5q = numeric_column(frame, "cna_del5q")
    del7 = pd.concat([numeric_column(frame, "cna_del7"), numeric_column(frame, "cna_del7q")], axis=1)
    del7_any = (del7 == 1).any(axis=1)
    del7_none = (del7 == 0).all(axis=1)
    complex_ = numeric_column(frame, "complex_karyotype")
    sf3b1_5q = pd.Series(np.nan, index=frame.index)
    sf3b1_5q[(sf3b1 == 0) | (del5q == 0) | del7_any | (complex_ == 1)] = 0.0
    sf3b1_5q[(sf3b1 == 1) & (del5q == 1) & del7_none & (complex_ == 0)] = 1.0
    excluded, clear = _all_zero(frame, SF3B1_ALPHA_EXCLUDERS)
    alpha = pd.Series(np.nan, index=frame.index)
    alpha[(sf3b1 == 0) | (sf3b1_5q == 1) | excluded] = 0.0
    alpha[(sf3b1 == 1) & (sf3b1_5q == 0) & clear] = 1.0
    v["SF3B1_alpha"] = alpha
    v["SF3B1_5q"] = sf3b1_5q
    for gene in IPSSM_GENES:
        v[gene] = numeric_column(frame, gene_column(gene))
    v["TP53multi"] = tp53_multihit(frame)
    flt3 = pd.concat([numeric_column(frame, gene_column("FLT3")), numeric_column(frame, gene_column("FLT3_ITD"))], axis=1)
    v["FLT3"] = np.where((flt3 == 1).any(axis=1), 1.0, np.where((flt3 == 0).all(axis=1), 0.0, np.nan))
    return v


def nres2_scenarios(frame: pd.DataFrame) -> pd.DataFrame:
    """Nres2 (residual genes mutated, capped at 2) under the mean, worst and best scenarios.

    With M of the 15 genes unsequenced, S sequenced and Ns of those mutated:
    mean = min(Ns, 2) + max((2 - Ns) / 2 x M / (S + M) x 0.388, 0); worst = min(Ns + M, 2);
    best = min(Ns, 2).
    """
    values = pd.concat([numeric_column(frame, gene_column(g)) for g in NRES2_GENES], axis=1)
    mutated = (values == 1).sum(axis=1).astype(float)
    unsequenced = values.isna().sum(axis=1).astype(float)
    total = len(NRES2_GENES)
    reference = ipssm_betas().at["Nres2", "reference_mean"]
    mean = np.minimum(mutated, 2) + np.maximum((2 - mutated) / 2 * unsequenced / total * reference, 0)
    return pd.DataFrame(
        {"mean": mean, "worst": np.minimum(mutated + unsequenced, 2), "best": np.minimum(mutated, 2)},
        index=frame.index,
    )


def ipssm(frame: pd.DataFrame) -> pd.DataFrame:
    """IPSS-M risk score and category: mean scenario, with the best-worst range.

    Inputs (harmonised names): hb_g_dl, plt_1e9_l, bm_blast_pct, cyto_ipssr, mut_<GENE>
    for the IPSS-M genes, FLT3/FLT3_ITD, MLL_PTD, cna_del5q, cna_del7, cna_del7q,
    complex_karyotype, tp53_n_mut, tp53_max_vaf, chr17_status. A missing input takes its
    reference mean (mean scenario) or its worst or best value.

    Returns:
        columns ipssm_score, ipssm_category, ipssm_score_best, ipssm_score_worst,
        ipssm_category_best, ipssm_category_worst.
    """
    betas = ipssm_betas()
    variables = ipssm_variables(frame)
    nres2 = nres2_scenarios(frame)
    out = {}
    for scenario in ("mean", "worst", "best"):
        filled = variables.copy()
        for name in variables.columns:
            fill = betas.at[name, "reference_mean" if scenario == "mean" else scenario]
            filled[name] = filled[name].fillna(fill)
        filled["Nres2"] = nres2[scenario]
        centred = filled[betas.index] - betas["reference_mean"]
        raw = (centred * betas["coefficient"]).sum(axis=1) / math.log(2)
        out[scenario] = raw.round(2)
    return pd.DataFrame(
        {
            "ipssm_score": out["mean"],
            "ipssm_category": categorise(out["mean"], IPSSM_CUTS, IPSSM_CATEGORIES),
            "ipssm_score_best": out["best"],
            "ipssm_score_worst": out["worst"],
            "ipssm_category_best": categorise(out["best"], IPSSM_CUTS, IPSSM_CATEGORIES),
            "ipssm_category_worst": categorise(out["worst"], IPSSM_CUTS, IPSSM_CATEGORIES),
        },
        index=frame.index,
    )


