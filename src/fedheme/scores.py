"""Clinical risk scores: the baselines every model is shown beside.

MDS: IPSS-R and age-adjusted IPSS-R (Greenberg et al., Blood 2012) and IPSS-M (Bernard
et al., NEJM Evidence 2022), whose inputs are derived here from harmonised raw data
(mutations, VAF, chromosome 17 status, copy-number events). Multiple myeloma: ISS (Greipp
2005), R-ISS (Palumbo 2015), R2-ISS (D'Agostino 2022). Definitions follow
``reference/clinical_scores.md``; IPSS-M coefficients are in ``scores_data/ipssm_betas.tsv``.

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

from fedheme.schema import CYTO_IPSSR_CATEGORIES, gene_column

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
    path = resources.files("fedheme") / "scores_data" / "ipssm_betas.tsv"
    with path.open() as handle:
        return pd.read_csv(handle, sep="\t", index_col="variable")


def _categorise(score: pd.Series, cuts: tuple[float, ...], labels: tuple[str, ...]) -> pd.Series:
    """Label each score by the first cut it does not exceed (cuts are inclusive upper bounds)."""
    codes = np.searchsorted(np.asarray(cuts), score.to_numpy(dtype=float), side="left")
    out = pd.Series(np.asarray(labels, dtype=object)[np.minimum(codes, len(labels) - 1)], index=score.index)
    return out.where(score.notna(), None)


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    """A numeric column, or all-missing when the file lacks it."""
    if name in frame.columns:
        return pd.to_numeric(frame[name], errors="coerce").astype(float)
    return pd.Series(np.nan, index=frame.index)


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
    blasts = _column(frame, "bm_blast_pct")
    blast_pts = pd.Series(np.select([blasts <= 2, blasts < 5, blasts <= 10], [0.0, 1.0, 2.0], 3.0), index=frame.index)
    hb = _column(frame, "hb_g_dl")
    plt_ = _column(frame, "plt_1e9_l")
    anc = _column(frame, "anc_1e9_l")
    score = (
        cyto_points(frame)
        + blast_pts.where(blasts.notna())
        + _points(hb, [(8, 1.5), (10, 1.0), (math.inf, 0.0)])
        + _points(plt_, [(50, 1.0), (100, 0.5), (math.inf, 0.0)])
        + _points(anc, [(0.8, 0.5), (math.inf, 0.0)])
    )
    age = _column(frame, "age")
    adjusted = score + (age - 70) * (0.05 - score * 0.005)
    return pd.DataFrame(
        {
            "ipssr_score": score,
            "ipssr_category": _categorise(score, IPSSR_CUTS, IPSSR_CATEGORIES),
            "ipssra_score": adjusted,
            "ipssra_category": _categorise(adjusted.round(2), IPSSR_CUTS, IPSSR_CATEGORIES),
        },
        index=frame.index,
    )


def tp53_multihit(frame: pd.DataFrame) -> pd.Series:
    """TP53 multi-hit: two or more TP53 mutations, or one with loss of the other allele.

    Loss of the other allele is a 17p deletion or copy-neutral LOH (``chr17_status``) or
    a VAF above 0.55. Inputs: tp53_n_mut, tp53_max_vaf, chr17_status. Missing when TP53
    was not sequenced, or when one mutation's allele state cannot be told.
    """
    n_mut = _column(frame, "tp53_n_mut")
    vaf = _column(frame, "tp53_max_vaf")
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
    values = pd.concat([_column(frame, gene_column(g)) for g in genes], axis=1)
    any_mut = (values == 1).any(axis=1)
    none = (values == 0).all(axis=1)
    return any_mut, none


def ipssm_variables(frame: pd.DataFrame) -> pd.DataFrame:
    """The 22 IPSS-M model variables from harmonised data (NaN where unknown), except Nres2.

    Returns a frame with columns named as in ``ipssm_betas().index`` (without Nres2).
    """
    v = pd.DataFrame(index=frame.index)
    v["CYTOVEC"] = cyto_points(frame)
    v["BLAST5"] = _column(frame, "bm_blast_pct").clip(upper=20) / 5
    v["TRANSF_PLT100"] = _column(frame, "plt_1e9_l").clip(upper=250) / 100
    v["HB1"] = _column(frame, "hb_g_dl")
    sf3b1 = _column(frame, gene_column("SF3B1"))
    del5q = _column(frame, "cna_del5q")
    del7 = pd.concat([_column(frame, "cna_del7"), _column(frame, "cna_del7q")], axis=1)
    del7_any = (del7 == 1).any(axis=1)
    del7_none = (del7 == 0).all(axis=1)
    complex_ = _column(frame, "complex_karyotype")
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
        v[gene] = _column(frame, gene_column(gene))
    v["TP53multi"] = tp53_multihit(frame)
    flt3 = pd.concat([_column(frame, gene_column("FLT3")), _column(frame, gene_column("FLT3_ITD"))], axis=1)
    v["FLT3"] = np.where((flt3 == 1).any(axis=1), 1.0, np.where((flt3 == 0).all(axis=1), 0.0, np.nan))
    return v


def nres2_scenarios(frame: pd.DataFrame) -> pd.DataFrame:
    """Nres2 (residual genes mutated, capped at 2) under the mean, worst and best scenarios.

    With M of the 15 genes unsequenced, S sequenced and Ns of those mutated:
    mean = min(Ns, 2) + max((2 - Ns) / 2 x M / (S + M) x 0.388, 0); worst = min(Ns + M, 2);
    best = min(Ns, 2).
    """
    values = pd.concat([_column(frame, gene_column(g)) for g in NRES2_GENES], axis=1)
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
            "ipssm_category": _categorise(out["mean"], IPSSM_CUTS, IPSSM_CATEGORIES),
            "ipssm_score_best": out["best"],
            "ipssm_score_worst": out["worst"],
            "ipssm_category_best": _categorise(out["best"], IPSSM_CUTS, IPSSM_CATEGORIES),
            "ipssm_category_worst": _categorise(out["worst"], IPSSM_CUTS, IPSSM_CATEGORIES),
        },
        index=frame.index,
    )


# ---------------------------------------------------------------- multiple myeloma

ISS_CATEGORIES = ("I", "II", "III")
R2ISS_CATEGORIES = ("I", "II", "III", "IV")


def iss(frame: pd.DataFrame) -> pd.DataFrame:
    """ISS: I = beta2-microglobulin < 3.5 mg/L and albumin >= 3.5 g/dL; III = B2M >= 5.5; else II.

    Inputs: b2m_mg_l, albumin_g_dl. Returns columns iss_stage (1-3), iss_category.
    """
    b2m, albumin = _column(frame, "b2m_mg_l"), _column(frame, "albumin_g_dl")
    stage = pd.Series(np.nan, index=frame.index)
    stage[b2m >= 5.5] = 3.0
    stage[(b2m < 5.5) & ((b2m >= 3.5) | (albumin < 3.5))] = 2.0
    stage[(b2m < 3.5) & (albumin >= 3.5)] = 1.0
    return pd.DataFrame({"iss_stage": stage, "iss_category": _stage_labels(stage, ISS_CATEGORIES)}, index=frame.index)


def _stage_labels(stage: pd.Series, labels: tuple[str, ...]) -> pd.Series:
    return stage.map(lambda s: labels[int(s) - 1] if pd.notna(s) else None)


def _high_ldh(frame: pd.DataFrame) -> pd.Series:
    """LDH above the upper limit of normal: ``ldh_high`` (0/1), or ldh_u_l > ldh_uln_u_l."""
    if "ldh_high" in frame.columns:
        return _column(frame, "ldh_high")
    ldh, uln = _column(frame, "ldh_u_l"), _column(frame, "ldh_uln_u_l")
    return (ldh > uln).astype(float).where(ldh.notna() & uln.notna())


def riss(frame: pd.DataFrame) -> pd.DataFrame:
    """R-ISS: I = ISS I, no high-risk cytogenetics (del(17p), t(4;14), t(14;16)) and normal LDH;
    III = ISS III with high-risk cytogenetics or high LDH; II = all others.

    Inputs: ISS inputs, del17p, t_4_14, t_14_16 (0/1), ldh_high or ldh_u_l with ldh_uln_u_l.
    Returns columns riss_stage, riss_category (missing where the inputs cannot decide).
    """
    stage_iss = iss(frame)["iss_stage"]
    cyto = pd.concat([_column(frame, c) for c in ("del17p", "t_4_14", "t_14_16")], axis=1)
    high_cyto = (cyto == 1).any(axis=1)
    standard_cyto = (cyto == 0).all(axis=1)
    ldh = _high_ldh(frame)
    stage = pd.Series(np.nan, index=frame.index)
    stage[(stage_iss == 2) | ((stage_iss == 1) & (high_cyto | (ldh == 1))) | ((stage_iss == 3) & standard_cyto & (ldh == 0))] = 2.0
    stage[(stage_iss == 1) & standard_cyto & (ldh == 0)] = 1.0
    stage[(stage_iss == 3) & (high_cyto | (ldh == 1))] = 3.0
    return pd.DataFrame({"riss_stage": stage, "riss_category": _stage_labels(stage, ISS_CATEGORIES)}, index=frame.index)


def r2iss(frame: pd.DataFrame) -> pd.DataFrame:
    """R2-ISS: points ISS II 1, ISS III 1.5, del(17p) 1, high LDH 1, t(4;14) 1, 1q gain 0.5;
    groups I = 0, II = 0.5-1, III = 1.5-2.5, IV = 3-5.

    Inputs: ISS inputs, del17p, t_4_14, gain_1q (0/1), ldh_high or ldh_u_l with ldh_uln_u_l.
    Returns columns r2iss_score, r2iss_category.
    """
    stage_iss = iss(frame)["iss_stage"]
    score = (
        stage_iss.map({1.0: 0.0, 2.0: 1.0, 3.0: 1.5})
        + _column(frame, "del17p")
        + _high_ldh(frame)
        + _column(frame, "t_4_14")
        + 0.5 * _column(frame, "gain_1q")
    )
    category = _categorise(score, (0.0, 1.0, 2.5), R2ISS_CATEGORIES)
    return pd.DataFrame({"r2iss_score": score, "r2iss_category": category}, index=frame.index)


def tcd_rule(frame: pd.DataFrame) -> pd.DataFrame:
    """Sickle cell disease: transcranial Doppler time-averaged mean of the maximum velocity
    >= 200 cm/s (STOP trial threshold for stroke risk) scores 1, below 0.

    Inputs: tcd_cm_s. Returns tcd_rule_score (missing where TCD was not measured).
    """
    velocity = _column(frame, "tcd_cm_s")
    return pd.DataFrame({"tcd_rule_score": (velocity >= 200).astype(float).where(velocity.notna())}, index=frame.index)


SCORES = {"ipssr": ipssr, "ipssm": ipssm, "iss": iss, "riss": riss, "r2iss": r2iss, "tcd_rule": tcd_rule}
