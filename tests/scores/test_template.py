"""``fedheme score ipssm`` reads the official IPSS-M calculator's input template as it is,
scores it exactly as the same patients in harmonised columns, names the template's own
columns in errors, and says which IPSS-M inputs a file lacks for everyone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import COHORT_DIR
from fedheme.cli import main
from fedheme.data.iwgpm.cohort import load_published_scores
from fedheme.data.iwgpm.validation import derive_tp53
from fedheme.scores import ipssm
from fedheme.scores.mds import IPSSM_GENES, NRES2_GENES, SF3B1_ALPHA_EXCLUDERS
from fedheme.scores.template import TEMPLATE_CYTO, absent_ipssm_inputs

GENES = sorted(set(IPSSM_GENES) - {"MLL_PTD"} | set(NRES2_GENES) | set(SF3B1_ALPHA_EXCLUDERS) | {"SF3B1"})


def _either(a: pd.Series, b: pd.Series) -> pd.Series:
    """1 when either is 1, 0 when both are 0, missing otherwise."""
    return pd.Series(np.where((a == 1) | (b == 1), 1.0, np.where((a == 0) & (b == 0), 0.0, np.nan)), index=a.index)


def as_template(patients: pd.DataFrame) -> pd.DataFrame:
    """The calculator's template for harmonised patients, with its codings."""
    cyto = {v: k for k, v in TEMPLATE_CYTO.items()}
    n_mut = patients["tp53_n_mut"].map(lambda n: np.nan if pd.isna(n) else "2 or more" if n >= 2 else str(int(n)))
    chr17 = patients["chr17_status"]
    template = pd.DataFrame({
        "ID": patients["patient_id"], "HB": patients["hb_g_dl"], "PLT": patients["plt_1e9_l"], "BM_BLAST": patients["bm_blast_pct"],
        "del5q": patients["cna_del5q"], "del7_7q": _either(patients["cna_del7"], patients["cna_del7q"]),
        "complex": patients["complex_karyotype"], "CYTO_IPSSR": patients["cyto_ipssr"].map(cyto),
        "del17_17p": chr17.map({"del": 1, "cnloh": 0, "normal": 0, "iso17q": 0}), "TP53mut": n_mut,
        "TP53maxvaf": patients["tp53_max_vaf"], "TP53loh": chr17.map({"cnloh": 1, "del": 0, "normal": 0, "iso17q": 0}),
        "MLL_PTD": patients["mut_MLL_PTD"], "FLT3": _either(patients["mut_FLT3"], patients["mut_FLT3_ITD"]),
    })  # fmt: skip
    for gene in GENES:
        template[gene] = patients[f"mut_{gene}"]
    return template


def as_harmonised(template: pd.DataFrame) -> pd.DataFrame:
    """The same information in harmonised columns (what the template can say)."""
    cyto = dict(TEMPLATE_CYTO)
    chr17 = np.where(template["del17_17p"] == 1, "del", np.where(template["TP53loh"] == 1, "cnloh",
                     np.where(template["del17_17p"].notna() & template["TP53loh"].notna(), "normal", None)))  # fmt: skip
    frame = pd.DataFrame({
        "patient_id": template["ID"], "hb_g_dl": template["HB"], "plt_1e9_l": template["PLT"], "bm_blast_pct": template["BM_BLAST"],
        "cna_del5q": template["del5q"], "cna_del7": template["del7_7q"], "cna_del7q": template["del7_7q"],
        "complex_karyotype": template["complex"], "cyto_ipssr": template["CYTO_IPSSR"].map(cyto), "chr17_status": chr17,
        "tp53_n_mut": template["TP53mut"].map({"0": 0.0, "1": 1.0, "2 or more": 2.0}), "tp53_max_vaf": template["TP53maxvaf"],
        "mut_MLL_PTD": template["MLL_PTD"], "mut_FLT3": template["FLT3"], "mut_FLT3_ITD": template["FLT3"],
    })  # fmt: skip
    for gene in GENES:
        frame[f"mut_{gene}"] = template[gene]
    return frame


@pytest.fixture(scope="module")
def template(cohort):
    patients = derive_tp53(cohort.patients, cohort.variants)
    patients = patients[patients["hb_g_dl"].notna() & patients["plt_1e9_l"].notna() & patients["bm_blast_pct"].notna()
                        & patients["cyto_ipssr"].notna()].reset_index(drop=True)  # fmt: skip
    return as_template(patients)


def test_the_template_scores_as_its_harmonised_columns(template, tmp_path, capsys):
    source = tmp_path / "ipssm_template.csv"
    template.to_csv(source, index=False, na_rep="NA")
    out = tmp_path / "ipssm.tsv"
    assert main(["score", "ipssm", str(source), "-o", str(out)]) == 0
    scored = pd.read_csv(out, sep="\t")
    expected = ipssm(as_harmonised(template))
    assert len(scored) == len(template) > 2500
    for column in ("ipssm_score", "ipssm_score_best", "ipssm_score_worst"):
        assert np.array_equal(scored[column].to_numpy(), expected[column].to_numpy(), equal_nan=True), column
    assert (scored["ipssm_category"] == expected["ipssm_category"]).all()
    # and against the scores published with the cohort (the template merges del7 with del7q
    # and FLT3 ITD with TKD, as the calculator does)
    published = load_published_scores(COHORT_DIR).set_index("patient_id")["IPSSM_SCORE"].reindex(template["ID"]).to_numpy()
    known = np.isfinite(published)
    assert np.mean(np.abs(scored["ipssm_score"].to_numpy()[known] - published[known]) <= 0.01 + 1e-9) >= 0.98
    assert "cannot inform" not in capsys.readouterr().err, "the template carries every IPSS-M input"


def test_template_problems_name_the_template_column_and_line(template, tmp_path, capsys):
    bad = template.head(5).copy()
    bad.loc[1, "CYTO_IPSSR"] = "very good"
    bad.loc[2, "TP53mut"] = "3+"
    bad.loc[3, "HB"] = 45.0
    bad.loc[4, "FLT3"] = 7
    source = tmp_path / "bad.csv"
    bad.to_csv(source, index=False, na_rep="NA")
    out = tmp_path / "out.tsv"
    assert main(["score", "ipssm", str(source), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{source}, line 3, column 'CYTO_IPSSR'" in err
    assert f"{source}, line 4, column 'TP53mut'" in err
    assert f"{source}, line 5, column 'HB'" in err
    assert f"{source}, line 6, column 'FLT3'" in err
    assert not out.exists()


def test_absent_inputs_are_named(cohort, tmp_path, capsys):
    patients = derive_tp53(cohort.patients, cohort.variants).iloc[:30].drop(columns=["mut_FLT3_ITD", "cna_del7q"])
    source = tmp_path / "cohort.parquet"
    patients.to_parquet(source)
    assert main(["score", "ipssm", str(source), "-o", str(tmp_path / "out.tsv")]) == 0
    err = capsys.readouterr().err
    assert "FLT3: no mut_FLT3_ITD" in err and "SF3B1_5q: no cna_del7q" in err
    assert absent_ipssm_inputs(["cyto_ipssr"])[0] == "BM_BLAST: no bm_blast_pct"
