"""The official IPSS-M calculator's input template, read as it is, and the IPSS-M inputs a
file lacks.

The template (Bernard et al., NEJM Evidence 2022; the ``ipssm`` R package's
``IPSSMexample.csv`` and the web calculator's download) has one row per patient and the
columns ``ID, HB, PLT, BM_BLAST, del5q, del7_7q, complex, CYTO_IPSSR, del17_17p, TP53mut,
TP53maxvaf, TP53loh, MLL_PTD, FLT3`` and one 0/1 column per gene. Its codings differ from
fedheme's harmonised columns: ``CYTO_IPSSR`` is spelled "Very Good" ... "Very Poor";
``TP53mut`` is "0", "1" or "2 or more"; ``TP53loh`` and ``del17_17p`` stand for the
other allele's loss; one ``FLT3`` column counts an ITD or a TKD mutation; ``del7_7q``
a loss of 7 or 7q. :func:`from_template` turns such a table into harmonised columns,
naming the template's own column (and line) in every problem, so ``fedheme score ipssm``
scores the template exactly as the same patients in harmonised columns.

:func:`absent_ipssm_inputs` names the IPSS-M variables a file cannot inform for anyone
(their columns are absent, not just empty): IPSS-M then imputes them for every patient.
"""

from __future__ import annotations

import dataclasses

from fedheme.data.issues import IssueCollector
from fedheme.data.iwgpm.validation import RawTable
from fedheme.scores.mds import IPSSM_GENES, NRES2_GENES, SF3B1_ALPHA_EXCLUDERS
from fedheme.standard.mds import CYTO_IPSSR_CATEGORIES, gene_column

#: Columns that mark a file as the calculator's template.
TEMPLATE_MARKERS = ("ID", "HB", "PLT", "BM_BLAST", "CYTO_IPSSR")
#: Template spelling of the IPSS-R cytogenetic categories -> fedheme's.
TEMPLATE_CYTO = dict(zip(("Very Good", "Good", "Intermediate", "Poor", "Very Poor"), CYTO_IPSSR_CATEGORIES))
#: Template columns copied to one harmonised column each.
TEMPLATE_RENAMES = {"ID": "patient_id", "HB": "hb_g_dl", "PLT": "plt_1e9_l", "BM_BLAST": "bm_blast_pct",
                    "del5q": "cna_del5q", "complex": "complex_karyotype", "TP53maxvaf": "tp53_max_vaf"}  # fmt: skip
#: Template columns whose value goes to several harmonised columns.
TEMPLATE_COPIES = {"del7_7q": ("cna_del7", "cna_del7q"), "FLT3": ("mut_FLT3", "mut_FLT3_ITD")}
MISSING = {"", "NA", "na", "NaN", "nan", "N/A"}
BINARY = {"0", "1", "0.0", "1.0"}


def is_template(header: list[str]) -> bool:
    """Whether a file's header is the IPSS-M calculator's template."""
    return set(TEMPLATE_MARKERS) <= set(header)


def name_template_columns(issues: IssueCollector, names: dict[str, str]) -> None:
    """Rename the harmonised columns of collected problems back to the template's."""
    issues.issues[:] = [dataclasses.replace(i, column=names.get(i.column, i.column)) for i in issues.issues]


def _binary(value: str, file: str, line: int, column: str, issues: IssueCollector) -> str:
    if value in MISSING:
        return "NA"
    if value not in BINARY:
        issues.add(file, line, column, f"value {value!r} is not 0, 1 or NA")
        return "NA"
    return str(int(float(value)))


def from_template(raw: RawTable, issues: IssueCollector) -> tuple[RawTable, dict[str, str]]:
    """The template's rows in harmonised columns, and harmonised -> template column names
    (for naming problems found later). Problems with the template's own codings are added
    to ``issues`` with the template's column and line."""
    index = {name: i for i, name in enumerate(raw.header)}
    genes = [c for c in raw.header if c not in TEMPLATE_RENAMES and c not in TEMPLATE_COPIES
             and c not in ("CYTO_IPSSR", "del17_17p", "TP53mut", "TP53loh")]  # fmt: skip
    header = [TEMPLATE_RENAMES[c] for c in raw.header if c in TEMPLATE_RENAMES]
    header += [h for c in raw.header if c in TEMPLATE_COPIES for h in TEMPLATE_COPIES[c]]
    header += ["cyto_ipssr"] + (["tp53_n_mut"] if "TP53mut" in index else [])
    header += ["chr17_status"] if {"TP53loh", "del17_17p"} & set(index) else []
    header += [gene_column(g) for g in genes]
    names = {h: c for c, h in TEMPLATE_RENAMES.items()} | {h: c for c, hs in TEMPLATE_COPIES.items() for h in hs}
    names |= {"cyto_ipssr": "CYTO_IPSSR", "tp53_n_mut": "TP53mut", "chr17_status": "TP53loh"} | {gene_column(g): g for g in genes}
    rows = []
    for values, line in zip(raw.rows, raw.lines):
        cell = {c: values[i].strip() if i < len(values) else "" for c, i in index.items()}
        row = [cell[c] if c in ("ID", "HB", "PLT", "BM_BLAST", "TP53maxvaf") else _binary(cell[c], raw.file, line, c, issues)
               for c in raw.header if c in TEMPLATE_RENAMES]  # fmt: skip
        for c in (c for c in raw.header if c in TEMPLATE_COPIES):
            row += [_binary(cell[c], raw.file, line, c, issues)] * len(TEMPLATE_COPIES[c])
        cyto = cell["CYTO_IPSSR"]
        if cyto not in TEMPLATE_CYTO and cyto not in MISSING:
            issues.add(raw.file, line, "CYTO_IPSSR", f"value {cyto!r} is not one of {sorted(TEMPLATE_CYTO)}")
        row.append(TEMPLATE_CYTO.get(cyto, "NA"))
        if "TP53mut" in index:
            n_mut = {"0": "0", "1": "1", "2": "2", "2 or more": "2"}.get(cell["TP53mut"])
            if n_mut is None and cell["TP53mut"] not in MISSING:
                issues.add(raw.file, line, "TP53mut", f"value {cell['TP53mut']!r} is not '0', '1' or '2 or more'")
            row.append(n_mut or "NA")
        if {"TP53loh", "del17_17p"} & set(index):
            loh = _binary(cell.get("TP53loh", "NA"), raw.file, line, "TP53loh", issues)
            deleted = _binary(cell.get("del17_17p", "NA"), raw.file, line, "del17_17p", issues)
            # the other allele: lost by a 17p deletion or by LOH; kept when both say 0
            row.append("del" if deleted == "1" else "cnloh" if loh == "1" else "normal" if "NA" not in (loh, deleted) else "NA")
        row += [_binary(cell[g], raw.file, line, g, issues) for g in genes]
        rows.append(row)
    return RawTable(raw.file, header, rows, list(raw.lines)), names


#: Each IPSS-M variable and the harmonised columns it is derived from.
IPSSM_INPUTS = {
    "CYTO_IPSSR": ("cyto_ipssr",), "BM_BLAST": ("bm_blast_pct",), "PLT": ("plt_1e9_l",), "HB": ("hb_g_dl",),
    "SF3B1_5q": ("mut_SF3B1", "cna_del5q", "cna_del7", "cna_del7q", "complex_karyotype"),
    "SF3B1_alpha": ("mut_SF3B1", *(gene_column(g) for g in SF3B1_ALPHA_EXCLUDERS)),
    "TP53multi": ("tp53_n_mut", "tp53_max_vaf", "chr17_status"), "FLT3": ("mut_FLT3", "mut_FLT3_ITD"),
    **{g: (gene_column(g),) for g in IPSSM_GENES}, "Nres2": tuple(gene_column(g) for g in NRES2_GENES),
}  # fmt: skip


def absent_ipssm_inputs(columns) -> list[str]:
    """The IPSS-M variables a file cannot inform for any patient, each with the columns
    it lacks ("FLT3: no mut_FLT3_ITD"): every patient's value is then imputed (the
    reference mean; best and worst scenarios beside it). A variable is listed when any
    column it needs is absent, since IPSS-M leaves it unknown wherever that column would
    decide it."""
    present = set(columns)
    out = []
    for variable, needed in IPSSM_INPUTS.items():
        lacking = [c for c in needed if c not in present]
        if lacking:
            out.append(f"{variable}: no {', '.join(lacking)}")
    return out
