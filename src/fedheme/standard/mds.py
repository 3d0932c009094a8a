"""The harmonised MDS schema: one definition drives validation, ingestion and the data dictionary.

Every harmonised variable is a :class:`Variable` with its canonical unit, the hard
physiological range outside which a value is rejected (almost always a unit mistake),
a softer plausible range that only flags the value in the site's QC report, and, where
one exists, a standard code (LOINC for laboratory values, HGNC symbols for genes).

The pandera model built by :func:`harmonised_schema` checks types, ranges, allowed
categories, unique patient IDs, follow-up >= 0 and events in {0, 1}.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

import pandas as pd

from fedheme.standard.mds_catalogue import CNA_EVENTS, HGNC_RENAMED, NON_GENE_ASSAYS, PANEL_GENES

if TYPE_CHECKING:
    import pandera.pandas as pa

#: Kinds of variable. ``binary`` is 0/1 (nullable); ``event`` is a survival status 0/1.
KINDS = ("id", "numeric", "binary", "category", "text", "time", "event")


@dataclass(frozen=True)
class Variable:
    """One harmonised variable.

    Attributes:
        name: canonical column name in harmonised files.
        kind: one of :data:`KINDS`.
        label: short human-readable name.
        unit: canonical unit ('' when unitless).
        definition: what the value means.
        required: the column must be present in every site export.
        nullable: a cell may be missing.
        hard_range: (low, high) inclusive; outside it the export is rejected.
        soft_range: (low, high) inclusive; outside it the value is flagged in QC only.
        categories: allowed values of a ``category`` variable.
        code_system, code: a standard terminology code ('' when none applies).
    """

    name: str
    kind: str
    label: str
    unit: str = ""
    definition: str = ""
    required: bool = False
    nullable: bool = True
    hard_range: tuple[float, float] | None = None
    soft_range: tuple[float, float] | None = None
    categories: tuple[str, ...] = field(default_factory=tuple)
    code_system: str = ""
    code: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"variable {self.name}: unknown kind {self.kind!r}")


CYTO_IPSSR_CATEGORIES = ("Very-Good", "Good", "Int", "Poor", "Very-Poor")
WHO_2016_CATEGORIES = (
    "MDS-SLD", "MDS-MLD", "MDS-RS-SLD", "MDS-RS-MLD", "MDS-RS-SLD/MLD", "MDS-SLD/MLD",
    "MDS-del5q", "MDS-EB1", "MDS-EB2", "MDS-U", "CMML", "MDS/MPN-U", "MDS/MPN-RS-T",
    "aCML", "other",
)  # fmt: skip

CLINICAL_VARIABLES: tuple[Variable, ...] = (
    Variable("patient_id", "id", "Patient identifier", definition="Pseudonymous patient identifier, unique within a site.", required=True, nullable=False),
    Variable("age", "numeric", "Age at diagnosis", "years", "Age at diagnostic sample.", required=True, hard_range=(0, 120), soft_range=(18, 100), code_system="LOINC", code="30525-0"),
    Variable("sex", "category", "Sex", definition="Administrative sex: M or F.", required=True, nullable=False, categories=("M", "F"), code_system="LOINC", code="46098-0"),
    Variable("mds_type", "category", "MDS type", definition="primary, or s_t_MDS (secondary or therapy-related).", categories=("primary", "s_t_MDS")),
    Variable("who_2016", "category", "WHO 2016 classification", definition="WHO 2016 diagnosis of myeloid neoplasms.", categories=WHO_2016_CATEGORIES),
    Variable("bm_blast_pct", "numeric", "Bone marrow blasts", "%", "Blasts as a percentage of marrow nucleated cells.", required=True, hard_range=(0, 100), soft_range=(0, 20)),
    Variable("pb_blast_pct", "numeric", "Peripheral blood blasts", "%", "Blasts as a percentage of blood leukocytes.", hard_range=(0, 100), soft_range=(0, 20)),
    Variable("wbc_1e9_l", "numeric", "White blood cells", "10^9/L", "Leukocyte count in blood.", hard_range=(0, 500), soft_range=(0.5, 100), code_system="LOINC", code="6690-2"),
    Variable("anc_1e9_l", "numeric", "Absolute neutrophil count", "10^9/L", "Neutrophil count in blood.", required=True, hard_range=(0, 200), soft_range=(0.05, 50), code_system="LOINC", code="751-8"),
    Variable("monocytes_1e9_l", "numeric", "Monocytes", "10^9/L", "Monocyte count in blood.", hard_range=(0, 200), soft_range=(0, 20), code_system="LOINC", code="742-7"),
    Variable("hb_g_dl", "numeric", "Haemoglobin", "g/dL", "Haemoglobin mass concentration in blood.", required=True, hard_range=(2, 25), soft_range=(5, 18), code_system="LOINC", code="718-7"),
    Variable("plt_1e9_l", "numeric", "Platelets", "10^9/L", "Platelet count in blood.", required=True, hard_range=(0, 5000), soft_range=(1, 1500), code_system="LOINC", code="777-3"),
    Variable("ringed_sideroblasts_pct", "numeric", "Ring sideroblasts", "%", "Ring sideroblasts as a percentage of marrow erythroid precursors.", hard_range=(0, 100)),
    Variable("karyotype", "text", "Karyotype", definition="ISCN karyotype string as reported by the cytogenetics laboratory."),
    Variable("cyto_ipssr", "category", "IPSS-R cytogenetic category", definition="Cytogenetic risk group of IPSS-R (Greenberg 2012) as reported by the site.", categories=CYTO_IPSSR_CATEGORIES),
    Variable("complex_karyotype", "binary", "Complex karyotype", definition="1 when the karyotype is complex (3 or more abnormalities)."),
    Variable("chr17_status", "category", "Chromosome 17p status", definition="normal, del (17p deletion), cnloh (copy-neutral LOH) or iso17q.", categories=("normal", "del", "cnloh", "iso17q")),
    Variable("hma", "binary", "Hypomethylating agent", definition="1 when treated with a hypomethylating agent."),
    Variable("lenalidomide", "binary", "Lenalidomide", definition="1 when treated with lenalidomide."),
    Variable("chemotherapy", "binary", "Intensive chemotherapy", definition="1 when treated with intensive chemotherapy."),
    Variable("transplant", "binary", "Allogeneic transplant", definition="1 when the patient received an allogeneic stem-cell transplant."),
    Variable("time_to_transplant_days", "time", "Time to allogeneic transplant", "days", "Days from diagnostic sample to allogeneic stem-cell transplant; missing when not transplanted or the date is unknown. Not after the end of follow-up (os_years).", hard_range=(0, 36525), soft_range=(0, 7305)),
    Variable("os_years", "time", "Overall survival time", "years", "Time from diagnostic sample to death or last follow-up.", required=True, hard_range=(0, 60), soft_range=(0, 30)),
    Variable("os_status", "event", "Overall survival status", definition="1 = died, 0 = alive at last follow-up.", required=True),
    Variable("lfs_years", "time", "Leukaemia-free survival time", "years", "Time from diagnostic sample to AML transformation, death or last follow-up.", hard_range=(0, 60), soft_range=(0, 30)),
    Variable("lfs_status", "event", "Leukaemia-free survival status", definition="1 = AML transformation or death, 0 = censored."),
)  # fmt: skip

#: Days in a year, converting ``time_to_transplant_days`` to the years of the endpoints.
DAYS_PER_YEAR = 365.25

#: Endpoints recorded by the site: (time, event) pairs, both present or both missing in a row.
RECORDED_ENDPOINTS = {"os": ("os_years", "os_status"), "lfs": ("lfs_years", "lfs_status")}

#: Natural-history endpoints: the recorded endpoint censored at allogeneic transplant, as
#: IPSS-R and IPSS-M were fitted (Greenberg 2012; Bernard 2022). Derived at ingestion.
NATURAL_HISTORY = {"os_nh": "os", "lfs_nh": "lfs"}

#: Every survival endpoint of a harmonised MDS file: name -> (time column, event column).
SURVIVAL_ENDPOINTS = {
    **RECORDED_ENDPOINTS,
    **{nh: (f"{nh}_years", f"{nh}_status") for nh in NATURAL_HISTORY},
}


def gene_column(gene: str) -> str:
    """Harmonised column of a panel gene's mutation status, e.g. ``mut_TP53``."""
    return f"mut_{gene}"


def cna_column(event: str) -> str:
    """Harmonised column of a cytogenetic / copy-number event, e.g. ``cna_del5q``."""
    return f"cna_{event}"


def _gene_variable(gene: str) -> Variable:
    if gene in NON_GENE_ASSAYS:
        note = NON_GENE_ASSAYS[gene]
        symbol = note.split("HGNC: ")[1].rstrip(")")
    else:
        symbol = HGNC_RENAMED.get(gene, gene)
        note = f"oncogenic mutation in {gene}" + (
            f" (current HGNC symbol {symbol})" if symbol != gene else ""
        )
    return Variable(
        gene_column(gene),
        "binary",
        f"{gene} mutated",
        definition=f"1 when {note} was found, 0 when sequenced and not found; "
        "missing when the site's panel does not cover it.",
        code_system="HGNC",
        code=symbol,
    )


GENE_VARIABLES = tuple(_gene_variable(g) for g in PANEL_GENES)
CNA_VARIABLES = tuple(
    Variable(
        cna_column(e),
        "binary",
        f"{e} present",
        definition=f"1 when the cytogenetic / copy-number event {e} was detected.",
    )
    for e in CNA_EVENTS
)

#: Per-patient features derived during ingestion from the variant table.
DERIVED_VARIABLES = (
    Variable("tp53_n_mut", "numeric", "TP53 mutations", "count", "Number of oncogenic TP53 mutations in the variant table; missing when TP53 was not sequenced.", hard_range=(0, 20)),
    Variable("tp53_max_vaf", "numeric", "Highest TP53 VAF", "fraction", "Largest variant allele fraction among TP53 mutations; 0 with none; missing when not sequenced.", hard_range=(0, 1)),
    Variable("os_nh_years", "time", "Overall survival, censored at transplant", "years", "os_years, or the time of allogeneic transplant when earlier (natural history); missing when transplanted on an unknown date.", hard_range=(0, 60)),
    Variable("os_nh_status", "event", "Overall survival status, censored at transplant", definition="os_status, or 0 when censored at allogeneic transplant."),
    Variable("lfs_nh_years", "time", "Leukaemia-free survival, censored at transplant", "years", "lfs_years, or the time of allogeneic transplant when earlier (natural history); missing when transplanted on an unknown date.", hard_range=(0, 60)),
    Variable("lfs_nh_status", "event", "Leukaemia-free survival status, censored at transplant", definition="lfs_status, or 0 when censored at allogeneic transplant."),
)  # fmt: skip

#: Everything a harmonised clinical file may hold, in file order.
HARMONISED_VARIABLES: tuple[Variable, ...] = (
    CLINICAL_VARIABLES + GENE_VARIABLES + CNA_VARIABLES + DERIVED_VARIABLES
)
VARIABLES_BY_NAME = {v.name: v for v in HARMONISED_VARIABLES}

#: The variant table (one row per mutation) of a site.
VARIANT_VARIABLES: tuple[Variable, ...] = (
    Variable("patient_id", "id", "Patient identifier", definition="Patient of the mutation; must be in the site's patient table.", required=True, nullable=False),
    Variable("gene", "category", "Gene", definition="Panel gene symbol of the mutation.", required=True, nullable=False, categories=PANEL_GENES),
    Variable("chrom", "text", "Chromosome", definition="Chromosome (GRCh37)."),
    Variable("start", "numeric", "Start position", "bp", "GRCh37 start coordinate.", hard_range=(1, 3e8)),
    Variable("ref", "text", "Reference allele", definition="Reference allele (GRCh37)."),
    Variable("alt", "text", "Alternate allele", definition="Alternate allele."),
    Variable("protein_change", "text", "Protein change", definition="HGVS protein change."),
    Variable("effect", "text", "Effect", definition="Predicted consequence."),
    Variable("vaf", "numeric", "Variant allele fraction", "fraction", "Fraction of reads carrying the variant.", required=True, hard_range=(0, 1)),
    Variable("depth", "numeric", "Read depth", "reads", "Sequencing depth at the position.", hard_range=(0, 1e7)),
)  # fmt: skip
VARIANT_VARIABLES_BY_NAME = {v.name: v for v in VARIANT_VARIABLES}


#: Multiple-myeloma inputs of ISS, R-ISS and R2-ISS (used by ``fedheme score``).
MM_SCORE_VARIABLES: tuple[Variable, ...] = (
    Variable("b2m_mg_l", "numeric", "Serum beta2-microglobulin", "mg/L", "Serum beta2-microglobulin concentration.", hard_range=(0, 100), code_system="LOINC", code="1952-1"),
    Variable("albumin_g_dl", "numeric", "Serum albumin", "g/dL", "Serum albumin concentration.", hard_range=(0.5, 7), code_system="LOINC", code="1751-7"),
    Variable("ldh_u_l", "numeric", "Serum LDH", "U/L", "Lactate dehydrogenase activity in serum.", hard_range=(0, 20000), code_system="LOINC", code="2532-0"),
    Variable("ldh_uln_u_l", "numeric", "LDH upper limit of normal", "U/L", "The laboratory's upper limit of normal for LDH.", hard_range=(50, 2000)),
    Variable("ldh_high", "binary", "High LDH", definition="1 when LDH is above the laboratory's upper limit of normal."),
    Variable("del17p", "binary", "del(17p)", definition="1 when FISH detects a 17p deletion."),
    Variable("t_4_14", "binary", "t(4;14)", definition="1 when FISH detects t(4;14)."),
    Variable("t_14_16", "binary", "t(14;16)", definition="1 when FISH detects t(14;16)."),
    Variable("gain_1q", "binary", "1q gain/amplification", definition="1 when FISH detects 1q gain or amplification."),
)  # fmt: skip


def subset_schema(variables: tuple[Variable, ...], name: str) -> pa.DataFrameSchema:
    """A non-strict pandera model over some variables (columns may be absent unless required)."""
    import pandera.pandas as pa

    return pa.DataFrameSchema({v.name: _column_schema(v, unique=v.kind == "id") for v in variables}, strict=False, name=name)


def _column_schema(var: Variable, unique: bool) -> pa.Column:
    # pandera is imported where a schema is built: every job reads the variable
    # definitions, few validate, and the import costs ~0.2 s per job
    import pandera.pandas as pa

    checks: list[pa.Check] = []
    if var.kind in ("numeric", "time") and var.hard_range is not None:
        low, high = var.hard_range
        checks.append(pa.Check.in_range(low, high))
    if var.kind == "time":
        checks.append(pa.Check.ge(0))
    if var.kind in ("binary", "event"):
        checks.append(pa.Check.isin([0, 1]))
    if var.kind == "category" and var.categories:
        checks.append(pa.Check.isin(list(var.categories)))
    dtype = {
        "id": str,
        "text": str,
        "category": str,
        "numeric": float,
        "time": float,
        "binary": float,
        "event": float,
    }[var.kind]
    return pa.Column(
        dtype,
        checks=checks,
        nullable=var.nullable,
        unique=unique,
        required=var.required,
    )


@lru_cache(maxsize=None)
def harmonised_schema() -> pa.DataFrameSchema:
    """Pandera model of a harmonised clinical file (one row per patient).

    Binary, event and count columns are float (NaN = missing) so that missing stays
    distinguishable from 0.
    """
    import pandera.pandas as pa

    columns = {v.name: _column_schema(v, unique=v.kind == "id") for v in HARMONISED_VARIABLES}
    return pa.DataFrameSchema(columns, strict=True, name="harmonised MDS patients")


@lru_cache(maxsize=None)
def variant_schema() -> pa.DataFrameSchema:
    """Pandera model of a harmonised variant table (one row per mutation)."""
    import pandera.pandas as pa

    columns = {v.name: _column_schema(v, unique=False) for v in VARIANT_VARIABLES}
    return pa.DataFrameSchema(columns, strict=True, name="harmonised MDS variants")


def data_dictionary() -> pd.DataFrame:
    """The FAIR data dictionary: one row per harmonised variable (patients, variants, MM score inputs)."""
    rows = []
    tables = (("patients", HARMONISED_VARIABLES), ("variants", VARIANT_VARIABLES), ("mm_score_inputs", MM_SCORE_VARIABLES))
    for table, variables in tables:
        for v in variables:
            rows.append(
                {
                    "table": table,
                    "variable": v.name,
                    "label": v.label,
                    "type": v.kind,
                    "unit": v.unit,
                    "required": "yes" if v.required else "no",
                    "allowed_range": "" if v.hard_range is None else f"[{v.hard_range[0]:g}, {v.hard_range[1]:g}]",
                    "qc_flag_outside": "" if v.soft_range is None else f"[{v.soft_range[0]:g}, {v.soft_range[1]:g}]",
                    "categories": "|".join(v.categories) if v.kind == "category" and len(v.categories) < 30 else "",
                    "definition": v.definition,
                    "code_system": v.code_system,
                    "code": v.code,
                }
            )  # fmt: skip
    return pd.DataFrame(rows)
