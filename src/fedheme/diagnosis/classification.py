"""MDS classification by WHO 2022 and ICC 2022 from harmonised patient rows.

Sources (each threshold constant below names its table):

* WHO 2022: Khoury JD et al., The 5th edition of the WHO Classification of Haematolymphoid
  Tumours: Myeloid and Histiocytic/Dendritic Neoplasms. Leukemia 2022;36:1703-1719,
  Table 5 (MDS, defining features) and the MDS/MPN section (CMML, MDS/MPN-SF3B1-T),
  with the AML section for AML with NPM1 mutation (no blast threshold).
* ICC 2022: Arber DA et al., International Consensus Classification of Myeloid Neoplasms
  and Acute Leukemias. Blood 2022;140:1200-1228, the tables of MDS, of MDS/AML, of myeloid
  neoplasms with mutated TP53 and of MDS/MPN (CMML, MDS/MPN-T-SF3B1, MDS/MPN-RS-T).

Every condition is evaluated in three-valued (Kleene) logic: True, False, or unknown when a
missing input could change it. Rules are tried in the classification's order of
precedence; a patient gets the label of the first rule that holds, or
"not classifiable: missing <columns>" when the first rule that does not fail is unknown
(so a missing value that cannot change the answer never blocks a label: BM blasts 25%
is AML whatever the PB blasts; PB blasts 6% is at least MDS-IB2 whatever the BM).

With ``use_who2016`` (the default) a missing blast count, ring-sideroblast percentage or
monocyte count is bounded by what the patient's WHO 2016 diagnosis implies (Arber DA et al.,
Blood 2016;127:2391-2405, Table 5): e.g. MDS-SLD/MLD/RS/del5q mean BM < 5% and PB < 1%,
MDS-EB1 BM < 10% and PB < 5%, every MDS and MDS/MPN category blasts < 20%; MDS-SLD/MLD mean
ring sideroblasts < 15%, MDS-RS with SF3B1 wild type >= 15%; WHO 2016 CMML meets the WHO 2022
monocytosis criteria. Measured values always win over these bounds.

Not implemented, the data have no input for them: MDS-h (marrow cellularity) and MDS-f
(marrow fibrosis): such patients get their blast-defined label (MDS-IB1/IB2, or MDS-LB);
Auer rods (MDS-IB2 / ICC MDS/AML); dysplastic lineages (ICC MDS-NOS subtypes); fusion
genes other than those named below; the "persistent" in persistent monocytosis or
thrombocytosis (one count is taken as is); anaemia for MDS/MPN-SF3B1-T; the supporting
criteria (clonality, dysplasia) of CMML, taken as met in patients referred for MDS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from fedheme.scores.mds import tp53_multihit


def _below(value: float) -> float:
    """The largest float under ``value``: an upper bound for "< value"."""
    return float(np.nextafter(value, -np.inf))


# --- shared thresholds (WHO 2022 and ICC 2022 agree on them) ---------------------------
#: AML at >= 20% blasts in BM or PB (WHO 2022 Table 5 footnote / AML section; ICC 2022 AML and MDS/AML tables).
AML_BLAST_PCT = 20.0
#: Low blasts: BM < 5% and PB < 2% (WHO 2022 Table 5, MDS-LB/5q/SF3B1; ICC 2022 MDS table, MDS-SF3B1/del(5q)/NOS).
LOW_BM_BLAST_PCT = 5.0
LOW_PB_BLAST_PCT = 2.0
#: CMML monocytosis: >= 0.5 x 10^9/L and >= 10% of leukocytes (WHO 2022 MDS/MPN section, CMML prerequisite
#: criteria; ICC 2022 CMML table).
CMML_MONOCYTES_1E9_L = 0.5
CMML_MONOCYTE_FRACTION = 0.10
#: MDS/MPN with SF3B1 mutation (or ring sideroblasts) and thrombocytosis: platelets >= 450 x 10^9/L,
#: PB blasts < 1%, BM blasts < 5% (WHO 2022 MDS/MPN section; ICC 2022 MDS/MPN-T-SF3B1 table).
THROMBOCYTOSIS_1E9_L = 450.0
MDS_MPN_T_PB_BLAST_PCT = 1.0
#: Ring sideroblasts (% of erythroid precursors) that stand in for an SF3B1 mutation (WHO 2022 Table 5, footnote a;
#: ICC 2022 MDS/MPN-RS-T, NOS).
RING_SIDEROBLAST_PCT = 15.0

# --- WHO 2022 (Khoury 2022, Table 5) ----------------------------------------------------
#: MDS-IB1: BM 5-9% or PB 2-4%; MDS-IB2: BM 10-19% or PB 5-19% (Table 5).
WHO_IB1_BM_BLAST_PCT = 5.0
WHO_IB1_PB_BLAST_PCT = 2.0
WHO_IB2_BM_BLAST_PCT = 10.0
WHO_IB2_PB_BLAST_PCT = 5.0
#: MDS-5q: del(5q) alone or with at most 1 other abnormality, not -7/del(7q) (Table 5).
MAX_OTHER_ABNORMALITIES_5Q = 1
#: AML with a defining genetic abnormality at any blast count: NPM1 (Khoury 2022, AML section and Table 7).
WHO_AML_DEFINING_GENES = ("NPM1",)

# --- ICC 2022 (Arber 2022) --------------------------------------------------------------
#: MDS-EB: BM 5-9% or PB 2-9%; MDS/AML: BM or PB 10-19% (MDS table, MDS/AML table).
ICC_EB_BM_BLAST_PCT = 5.0
ICC_EB_PB_BLAST_PCT = 2.0
ICC_MDS_AML_BLAST_PCT = 10.0
#: MDS-SF3B1 (and MDS/MPN-T-SF3B1): SF3B1 mutation at VAF >= 10% (MDS table, MDS/MPN-T-SF3B1 table).
ICC_SF3B1_MIN_VAF = 0.10
#: Myeloid neoplasms with mutated TP53 (TP53 table): MDS/AML with mutated TP53 needs any TP53 mutation at
#: VAF > 10%; MDS with mutated TP53 (0-9% blasts) multi-hit TP53, or VAF > 10% with a complex karyotype.
ICC_TP53_VAF = 0.10
#: Multi-hit TP53 counts for ICC when its mutations have VAF >= 10% (TP53 table, footnote); only the
#: largest VAF is a column, so this is checked on it.
ICC_TP53_MULTIHIT_MIN_VAF = 0.10
#: AML with mutated NPM1 needs >= 10% blasts in ICC 2022 (AML table; MDS/AML excludes NPM1).
ICC_AML_NPM1_BLAST_PCT = 10.0
ICC_AML_DEFINING_GENES = ("NPM1",)
#: abn3q26.2 (MECOM) excludes ICC MDS-SF3B1; proxied by the rearrangement columns between 3 and 3
#: (inv(3)/t(3;3)) and 3 and 21 (t(3;21)(q26.2;q22.1)).
ABN_3Q26_COLUMNS = ("cna_r_3_3", "cna_r_3_21")

WHO2022_LABELS = ("AML", "CMML", "MDS/MPN-SF3B1-T", "MDS-biTP53", "MDS-5q", "MDS-SF3B1", "MDS-IB2", "MDS-IB1", "MDS-LB")
ICC2022_LABELS = (
    "AML", "CMML", "MDS/MPN-T-SF3B1", "MDS/MPN-RS-T", "MDS/AML with mutated TP53", "MDS with mutated TP53",
    "MDS-SF3B1", "MDS-del(5q)", "MDS/AML", "MDS-EB", "MDS-NOS",
)  # fmt: skip
NOT_CLASSIFIABLE = "not classifiable"
#: Column holding the largest SF3B1 VAF (fraction) when the caller has the variant table (see ``with_sf3b1_vaf``).
SF3B1_VAF_COLUMN = "sf3b1_max_vaf"
#: Slack for thresholds computed from two inputs (a fraction of WBC).
FLOAT_TOLERANCE = 1e-9

# --- what a WHO 2016 diagnosis implies (Arber 2016, Table 5; used only for missing values) ------------
_LOW = (_below(5.0), _below(1.0))  # BM < 5%, PB < 1%
_UNDER_20 = (_below(20.0), _below(20.0))
#: WHO 2016 label -> (largest BM blast %, largest PB blast %) it allows.
WHO2016_BLAST_LIMITS: dict[str, tuple[float, float]] = {
    "MDS-SLD": _LOW, "MDS-MLD": _LOW, "MDS-SLD/MLD": _LOW, "MDS-RS-SLD": _LOW, "MDS-RS-MLD": _LOW,
    "MDS-RS-SLD/MLD": _LOW, "MDS-del5q": _LOW, "MDS/MPN-RS-T": _LOW, "MDS-U": (_below(5.0), 1.0),
    "MDS-EB1": (_below(10.0), _below(5.0)), "MDS-EB2": _UNDER_20, "CMML": _UNDER_20, "MDS/MPN-U": _UNDER_20, "aCML": _UNDER_20,
}  # fmt: skip
#: WHO 2016 labels meaning ring sideroblasts < 15% (with or without SF3B1 mutation).
WHO2016_RS_BELOW_15 = ("MDS-SLD", "MDS-MLD", "MDS-SLD/MLD")
#: WHO 2016 labels meaning ring sideroblasts >= 15% when SF3B1 is wild type (>= 5% suffices with the mutation).
WHO2016_RS_AT_LEAST_15_IF_SF3B1_WT = ("MDS-RS-SLD", "MDS-RS-MLD", "MDS-RS-SLD/MLD", "MDS/MPN-RS-T")

BM, PB, RS = "bm_blast_pct", "pb_blast_pct", "ringed_sideroblasts_pct"
MONO, WBC, PLT = "monocytes_1e9_l", "wbc_1e9_l", "plt_1e9_l"
TP53_INPUTS = ("tp53_n_mut", "tp53_max_vaf", "chr17_status")
DEL7 = ("cna_del7", "cna_del7q")


@dataclass(frozen=True)
class _Rule:
    label: str
    condition: pd.Series  # nullable boolean: True, False or <NA> (unknown)
    inputs: tuple[str, ...]
    reason: str


def _num(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame.columns:
        return pd.to_numeric(frame[name], errors="coerce").astype(float)
    return pd.Series(np.nan, index=frame.index)


def _tri(values, index: pd.Index) -> pd.Series:
    return pd.Series(values, index=index, dtype="boolean")


def _ge(low: pd.Series, high: pd.Series, threshold) -> pd.Series:
    """value >= threshold for a value known to lie in [low, high]; unknown when the interval straddles it."""
    out = _tri(pd.NA, low.index)
    out[(low >= threshold).to_numpy()] = True
    out[(high < threshold).to_numpy()] = False
    return out


def _flag(frame: pd.DataFrame, name: str) -> pd.Series:
    """A 0/1/NaN column as True/False/unknown (an absent column is unknown)."""
    return _tri(_num(frame, name).map({1.0: True, 0.0: False}), frame.index)


class _Measure:
    """A numeric input as an interval: [x, x] when measured, else the bounds the evidence allows."""

    def __init__(self, value: pd.Series, low: pd.Series | None = None, high: pd.Series | None = None) -> None:
        self.low = value.fillna(-np.inf if low is None else low)
        self.high = value.fillna(np.inf if high is None else high)

    def ge(self, threshold) -> pd.Series:
        return _ge(self.low, self.high, threshold)

    def lt(self, threshold) -> pd.Series:
        return ~self.ge(threshold)

    def gt(self, threshold) -> pd.Series:
        out = _tri(pd.NA, self.low.index)
        out[(self.low > threshold).to_numpy()] = True
        out[(self.high <= threshold).to_numpy()] = False
        return out


@dataclass
class _Inputs:
    """Every derived input both classifications use, in three-valued form."""

    frame: pd.DataFrame
    bm: _Measure
    pb: _Measure
    rs_15: pd.Series
    monocytosis: pd.Series
    bounded: dict[str, np.ndarray]  # column -> rows where it is missing and the WHO 2016 label bounded it

    @property
    def index(self) -> pd.Index:
        return self.frame.index

    def low_blasts(self) -> pd.Series:
        return self.bm.lt(LOW_BM_BLAST_PCT) & self.pb.lt(LOW_PB_BLAST_PCT)

    def blasts_ge(self, bm: float, pb: float) -> pd.Series:
        return self.bm.ge(bm) | self.pb.ge(pb)

    def no_del7(self) -> pd.Series:
        return ~(_flag(self.frame, DEL7[0]) | _flag(self.frame, DEL7[1]))

    def not_complex(self) -> pd.Series:
        return ~_flag(self.frame, "complex_karyotype")

    def cna_columns(self) -> tuple[str, ...]:
        return tuple(c for c in self.frame.columns if c.startswith("cna_"))

    def isolated_del5q(self) -> pd.Series:
        """del(5q) with at most one other abnormality, none of them -7/del(7q) (counted over the cna_* columns)."""
        others = [c for c in self.cna_columns() if c != "cna_del5q"]
        values = self.frame[others].apply(pd.to_numeric, errors="coerce") if others else pd.DataFrame(index=self.index)
        present, unknown = (values == 1).sum(axis=1), values.isna().sum(axis=1)
        few = _tri(pd.NA, self.index)
        few[(present + unknown <= MAX_OTHER_ABNORMALITIES_5Q).to_numpy()] = True
        few[(present > MAX_OTHER_ABNORMALITIES_5Q).to_numpy()] = False
        few &= self.not_complex()  # a complex karyotype has >= 3 abnormalities, whatever the columns say
        return _flag(self.frame, "cna_del5q") & few & self.no_del7()

    def mutated(self, gene: str) -> pd.Series:
        return _flag(self.frame, f"mut_{gene}")

    def multihit(self) -> pd.Series:
        return _tri(tp53_multihit(self.frame).map({1.0: True, 0.0: False}), self.index)


def with_sf3b1_vaf(frame: pd.DataFrame, variants: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with :data:`SF3B1_VAF_COLUMN` (largest SF3B1 VAF by patient_id; NaN when none is listed)."""
    return frame.assign(**{SF3B1_VAF_COLUMN: frame["patient_id"].map(max_vaf(variants, "SF3B1")).astype(float)})


def max_vaf(variants: pd.DataFrame, gene: str) -> pd.Series:
    """Largest variant allele fraction of ``gene`` per patient (index patient_id); patients without one are absent."""
    return variants.loc[variants["gene"] == gene].groupby("patient_id")["vaf"].max().astype(float)


def _inputs(frame: pd.DataFrame, use_who2016: bool) -> _Inputs:
    label = frame["who_2016"] if use_who2016 and "who_2016" in frame.columns else pd.Series(None, index=frame.index, dtype=object)
    limits = label.map(WHO2016_BLAST_LIMITS)
    bm_high = limits.map(lambda x: x[0] if isinstance(x, tuple) else np.inf).astype(float)
    pb_high = limits.map(lambda x: x[1] if isinstance(x, tuple) else np.inf).astype(float)
    bm_value, pb_value, rs_value, mono_value = (_num(frame, c) for c in (BM, PB, RS, MONO))
    bm = _Measure(bm_value, pd.Series(0.0, index=frame.index), bm_high)
    pb = _Measure(pb_value, pd.Series(0.0, index=frame.index), pb_high)

    sf3b1_wt = _num(frame, "mut_SF3B1") == 0
    rs_low = pd.Series(np.where(label.isin(WHO2016_RS_AT_LEAST_15_IF_SF3B1_WT) & sf3b1_wt, RING_SIDEROBLAST_PCT, 0.0), index=frame.index)
    rs_high = pd.Series(np.where(label.isin(WHO2016_RS_BELOW_15), _below(RING_SIDEROBLAST_PCT), np.inf), index=frame.index)
    rs_15 = _Measure(rs_value, rs_low, rs_high).ge(RING_SIDEROBLAST_PCT)

    mono = _Measure(mono_value, pd.Series(0.0, index=frame.index))
    # >= 10% of WBC as monocytes >= 0.1 x WBC, with a tolerance for float rounding (0.1 x 12.0 > 1.2 in binary)
    monocytosis = mono.ge(CMML_MONOCYTES_1E9_L) & mono.ge(CMML_MONOCYTE_FRACTION * _num(frame, WBC) - FLOAT_TOLERANCE)
    from_label = mono_value.isna() & (label == "CMML")  # WHO 2016 CMML: >= 1 x 10^9/L and >= 10%, within WHO 2022's criteria
    monocytosis[from_label.to_numpy()] = True

    bounded = {
        BM: (bm_value.isna() & np.isfinite(bm_high)).to_numpy(),
        PB: (pb_value.isna() & np.isfinite(pb_high)).to_numpy(),
        RS: (rs_value.isna() & ((rs_low > 0) | np.isfinite(rs_high)) & sf3b1_wt).to_numpy(),
        MONO: from_label.to_numpy(),
    }
    return _Inputs(frame, bm, pb, rs_15, monocytosis, bounded)


def _missing(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.Series:
    """Per row, the listed columns that are absent or missing (ring sideroblasts only matter without SF3B1 mutation)."""
    out = pd.Series("", index=frame.index, dtype=object)
    sf3b1_mutated = (_num(frame, "mut_SF3B1") == 1).to_numpy()
    for column in columns:
        gone = frame[column].isna().to_numpy() if column in frame.columns else np.ones(len(frame), dtype=bool)
        if column == RS:
            gone &= ~sf3b1_mutated
        out[gone] += ", " + column
    return out.str.removeprefix(", ")


def _cascade(rules: list[_Rule], inputs: _Inputs, name: str) -> pd.DataFrame:
    """First rule that holds gives the label; an unknown rule before it makes the patient not classifiable."""
    index = inputs.index
    label = pd.Series(None, index=index, dtype=object)
    reason = pd.Series(None, index=index, dtype=object)
    open_ = pd.Series(True, index=index)
    consulted = {column: np.zeros(len(index), dtype=bool) for column in inputs.bounded}
    for rule in rules:
        for column in consulted.keys() & set(rule.inputs):
            consulted[column] |= open_.to_numpy()
        condition = rule.condition.reindex(index)
        hit = open_ & condition.fillna(False).astype(bool)
        unknown = open_ & condition.isna().to_numpy()
        label[hit] = rule.label
        reason[hit] = rule.reason
        if unknown.any():
            missing = _missing(inputs.frame.loc[unknown], rule.inputs).replace("", f"inputs of {rule.label}")
            reason[unknown] = f"{NOT_CLASSIFIABLE}: missing " + missing + f" (could be {rule.label})"
        open_ &= condition.eq(False).fillna(False).astype(bool)
    note = pd.Series("", index=index, dtype=object)
    for column, mask in inputs.bounded.items():
        note[mask & consulted[column] & label.notna().to_numpy()] += ", " + column
    used = note != ""
    reason[used] = reason[used] + "; missing " + note[used].str.removeprefix(", ") + " bounded by the WHO 2016 diagnosis"
    label = label.astype(object).where(label.notna(), None)
    return pd.DataFrame({name: label, f"{name}_reason": reason}, index=index)


def who2022(frame: pd.DataFrame, use_who2016: bool = True) -> pd.DataFrame:
    """WHO 2022 (Khoury 2022) label of each patient: columns ``who2022`` (one of :data:`WHO2022_LABELS`,
    or None when not classifiable) and ``who2022_reason``.

    Precedence: AML (blasts >= 20% in BM or PB; or NPM1 mutation, which defines AML at any
    blast count in WHO 2022); CMML (monocytes >= 0.5 x 10^9/L and >= 10% of WBC: then not MDS);
    MDS/MPN-SF3B1-T (platelets >= 450, BM < 5%, PB < 1%, SF3B1 mutation or >= 15% ring
    sideroblasts, no del(5q) or inv(3)/t(3;3)); MDS-biTP53 (``tp53_multihit``: two or more TP53
    mutations, or one with 17p deletion / cnLOH or VAF > 0.55; WHO 2022 takes VAF >= 50% as
    presumptive, IPSS-M's 0.55 is kept for one definition across fedheme); with low blasts
    (BM < 5% and PB < 2%) MDS-5q (del(5q) with at most one other abnormality, not -7/del(7q))
    then MDS-SF3B1 (SF3B1 mutation, or >= 15% ring sideroblasts with SF3B1 wild type; no
    del(5q), -7/del(7q) or complex karyotype); then MDS-IB2 (BM 10-19% or PB 5-19%), MDS-IB1
    (BM 5-9% or PB 2-4%), MDS-LB. MDS-h and MDS-f need marrow cellularity and fibrosis, which
    the data do not hold: those patients keep their blast-defined label.
    """
    x = _inputs(frame, use_who2016)
    blast_cols = (BM, PB)
    sf3b1_or_rs = x.mutated("SF3B1") | x.rs_15
    no_3q26 = ~(_flag(frame, "cna_r_3_3") if "cna_r_3_3" in frame.columns else _tri(False, frame.index))
    genes = tuple(f"mut_{g}" for g in WHO_AML_DEFINING_GENES)
    aml_gene = _tri(False, frame.index)
    for gene in WHO_AML_DEFINING_GENES:
        aml_gene |= x.mutated(gene)
    rules = [
        _Rule("AML", x.blasts_ge(AML_BLAST_PCT, AML_BLAST_PCT), blast_cols, "blasts >= 20% in BM or PB"),
        _Rule("AML", aml_gene, genes, "NPM1 mutation: AML at any blast count"),
        _Rule("CMML", x.monocytosis, (MONO, WBC), "monocytes >= 0.5 x 10^9/L and >= 10% of WBC"),
        _Rule(
            "MDS/MPN-SF3B1-T",
            _ge(_num(frame, PLT), _num(frame, PLT), THROMBOCYTOSIS_1E9_L) & x.bm.lt(LOW_BM_BLAST_PCT) & x.pb.lt(MDS_MPN_T_PB_BLAST_PCT)
            & sf3b1_or_rs & ~_flag(frame, "cna_del5q") & no_3q26,
            (PLT, BM, PB, "mut_SF3B1", RS, "cna_del5q"),
            "platelets >= 450, BM < 5%, PB < 1%, SF3B1 mutation or ring sideroblasts >= 15%",
        ),
        _Rule("MDS-biTP53", x.multihit(), TP53_INPUTS, "multi-hit TP53, blasts < 20%"),
        _Rule("MDS-5q", x.low_blasts() & x.isolated_del5q(), blast_cols + ("complex_karyotype",) + x.cna_columns(),
              "low blasts, del(5q) with at most one other abnormality, not -7/del(7q)"),
        _Rule("MDS-SF3B1", x.low_blasts() & sf3b1_or_rs & ~_flag(frame, "cna_del5q") & x.no_del7() & x.not_complex(),
              blast_cols + ("mut_SF3B1", RS, "cna_del5q", "complex_karyotype") + DEL7,
              "low blasts, SF3B1 mutation or ring sideroblasts >= 15%, no del(5q), -7/del(7q) or complex karyotype"),
        _Rule("MDS-IB2", x.blasts_ge(WHO_IB2_BM_BLAST_PCT, WHO_IB2_PB_BLAST_PCT), blast_cols, "BM blasts 10-19% or PB 5-19%"),
        _Rule("MDS-IB1", x.blasts_ge(WHO_IB1_BM_BLAST_PCT, WHO_IB1_PB_BLAST_PCT), blast_cols, "BM blasts 5-9% or PB 2-4%"),
        _Rule("MDS-LB", _tri(True, frame.index), (), "BM blasts < 5% and PB < 2%, no defining genetic abnormality"),
    ]  # fmt: skip
    return _cascade(rules, x, "who2022")


def icc2022(frame: pd.DataFrame, use_who2016: bool = True) -> pd.DataFrame:
    """ICC 2022 (Arber 2022) label of each patient: columns ``icc2022`` (one of :data:`ICC2022_LABELS`,
    or None when not classifiable) and ``icc2022_reason``.

    Precedence: AML (blasts >= 20%; NPM1 mutation with >= 10% blasts); CMML (as WHO 2022);
    MDS/MPN-T-SF3B1 (platelets >= 450, BM < 5%, PB < 1%, SF3B1 at VAF >= 10%, no del(5q) or
    inv(3)/t(3;3)) and MDS/MPN-RS-T (the same with SF3B1 wild type and >= 15% ring
    sideroblasts); MDS/AML with mutated TP53 (blasts 10-19%, TP53 VAF > 10%); MDS with mutated
    TP53 (blasts 0-9%, multi-hit TP53 with largest VAF >= 10%, or TP53 VAF > 10% with a complex
    karyotype); with low blasts (BM < 5%, PB < 2%): MDS-SF3B1 (SF3B1 VAF >= 10%; no del(5q),
    -7/del(7q), abn3q26.2, complex karyotype, RUNX1 mutation or multi-hit TP53: Arber 2022 lists
    RUNX1 among the exclusions), MDS-del(5q) (as WHO 2022's MDS-5q, without multi-hit TP53);
    then MDS/AML (BM or PB 10-19%), MDS-EB (BM 5-9% or PB 2-9%), MDS-NOS (ICC's subtypes by
    dysplasia need lineage data, absent here).

    Simplifications: the SF3B1 VAF is :data:`SF3B1_VAF_COLUMN` when the frame has it (see
    :func:`with_sf3b1_vaf`); where it is missing a mutation counts as VAF >= 10%. ICC's
    multi-hit needs each mutation at VAF >= 10%; only the largest VAF is known, so it is
    checked on that one. abn3q26.2 is read from :data:`ABN_3Q26_COLUMNS`.
    """
    x = _inputs(frame, use_who2016)
    blast_cols = (BM, PB)
    sf3b1_vaf = _num(frame, SF3B1_VAF_COLUMN)
    sf3b1 = x.mutated("SF3B1") & _tri(~(sf3b1_vaf < ICC_SF3B1_MIN_VAF), frame.index)  # NaN VAF: the mutation counts
    tp53_vaf = _Measure(_num(frame, "tp53_max_vaf"))
    tp53_over = tp53_vaf.gt(ICC_TP53_VAF)
    multihit = x.multihit() & tp53_vaf.ge(ICC_TP53_MULTIHIT_MIN_VAF)
    abn3q26 = _tri(False, frame.index)
    for column in ABN_3Q26_COLUMNS:
        if column in frame.columns:
            abn3q26 |= _flag(frame, column)
    thrombocytosis = (
        _ge(_num(frame, PLT), _num(frame, PLT), THROMBOCYTOSIS_1E9_L) & x.bm.lt(LOW_BM_BLAST_PCT)
        & x.pb.lt(MDS_MPN_T_PB_BLAST_PCT) & ~_flag(frame, "cna_del5q") & ~abn3q26
    )  # fmt: skip
    aml_gene = _tri(False, frame.index)
    for gene in ICC_AML_DEFINING_GENES:
        aml_gene |= x.mutated(gene)
    ten = x.blasts_ge(ICC_MDS_AML_BLAST_PCT, ICC_MDS_AML_BLAST_PCT)
    mpn_cols = (PLT, BM, PB, "cna_del5q")
    rules = [
        _Rule("AML", x.blasts_ge(AML_BLAST_PCT, AML_BLAST_PCT), blast_cols, "blasts >= 20% in BM or PB"),
        _Rule("AML", aml_gene & x.blasts_ge(ICC_AML_NPM1_BLAST_PCT, ICC_AML_NPM1_BLAST_PCT),
              blast_cols + tuple(f"mut_{g}" for g in ICC_AML_DEFINING_GENES), "NPM1 mutation with blasts >= 10%"),
        _Rule("CMML", x.monocytosis, (MONO, WBC), "monocytes >= 0.5 x 10^9/L and >= 10% of WBC"),
        _Rule("MDS/MPN-T-SF3B1", thrombocytosis & sf3b1, mpn_cols + ("mut_SF3B1",),
              "platelets >= 450, BM < 5%, PB < 1%, SF3B1 VAF >= 10%"),
        _Rule("MDS/MPN-RS-T", thrombocytosis & ~x.mutated("SF3B1") & x.rs_15, mpn_cols + ("mut_SF3B1", RS),
              "platelets >= 450, BM < 5%, PB < 1%, SF3B1 wild type, ring sideroblasts >= 15%"),
        _Rule("MDS/AML with mutated TP53", ten & tp53_over, blast_cols + ("tp53_max_vaf",), "blasts 10-19%, TP53 VAF > 10%"),
        _Rule("MDS with mutated TP53", x.bm.lt(ICC_MDS_AML_BLAST_PCT) & x.pb.lt(ICC_MDS_AML_BLAST_PCT)
              & (multihit | (tp53_over & _flag(frame, "complex_karyotype"))),
              blast_cols + TP53_INPUTS + ("complex_karyotype",), "blasts < 10%, multi-hit TP53 or TP53 VAF > 10% with complex karyotype"),
        _Rule("MDS-SF3B1", x.low_blasts() & sf3b1 & ~_flag(frame, "cna_del5q") & x.no_del7() & ~abn3q26 & x.not_complex()
              & ~x.mutated("RUNX1") & ~x.multihit(),
              blast_cols + ("mut_SF3B1", "cna_del5q", "complex_karyotype", "mut_RUNX1") + DEL7 + TP53_INPUTS,
              "low blasts, SF3B1 VAF >= 10%, no del(5q), -7/del(7q), abn3q26.2, complex karyotype, RUNX1 or multi-hit TP53"),
        _Rule("MDS-del(5q)", x.low_blasts() & x.isolated_del5q() & ~x.multihit(),
              blast_cols + ("complex_karyotype",) + x.cna_columns() + TP53_INPUTS,
              "low blasts, del(5q) with at most one other abnormality, not -7/del(7q)"),
        _Rule("MDS/AML", ten, blast_cols, "BM or PB blasts 10-19%"),
        _Rule("MDS-EB", x.blasts_ge(ICC_EB_BM_BLAST_PCT, ICC_EB_PB_BLAST_PCT), blast_cols, "BM blasts 5-9% or PB 2-9%"),
        _Rule("MDS-NOS", _tri(True, frame.index), (), "BM blasts < 5% and PB < 2%, no defining genetic abnormality"),
    ]  # fmt: skip
    return _cascade(rules, x, "icc2022")


def classify(frame: pd.DataFrame, system: Literal["who2022", "icc", "icc2022"], use_who2016: bool = True) -> pd.DataFrame:
    """Labels and reasons by ``system``: "who2022" (:func:`who2022`) or "icc" (:func:`icc2022`)."""
    if system == "who2022":
        return who2022(frame, use_who2016)
    if system in ("icc", "icc2022"):
        return icc2022(frame, use_who2016)
    raise ValueError(f"unknown classification system {system!r}: use 'who2022' or 'icc'")


def crosstab(labels: pd.DataFrame) -> pd.DataFrame:
    """Counts of (who_2016, who2022, icc2022) triples, one row each, with column ``n``.

    A missing WHO 2016 label reads "missing"; a missing WHO 2022 / ICC label "not classifiable".
    Counts are raw: small cells are suppressed where a site's release is made.
    """
    keys = ["who_2016", "who2022", "icc2022"]
    table = labels[keys].astype(object).copy()
    table["who_2016"] = table["who_2016"].fillna("missing")
    table[["who2022", "icc2022"]] = table[["who2022", "icc2022"]].fillna(NOT_CLASSIFIABLE)
    return table.groupby(keys).size().rename("n").reset_index().sort_values(keys, ignore_index=True)
