"""Clinical scores: IPSS-R and IPSS-M reproduce the published scores; MM stages on hand cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sksurv.metrics import concordance_index_censored

from fedheme.cli import main
from fedheme.data.iwgpm.cohort import load_published_scores
from fedheme.scores import ipssm, ipssm_variables, ipssr, iss, nres2_scenarios, r2iss, riss
from fedheme.data.iwgpm.validation import derive_tp53

from conftest import COHORT_DIR


@pytest.fixture(scope="module")
def scored(cohort):
    patients = derive_tp53(cohort.patients, cohort.variants)
    published = load_published_scores(COHORT_DIR).set_index("patient_id").loc[patients["patient_id"]].reset_index()
    return patients, published, ipssm(patients), ipssr(patients)


def test_ipssm_matches_the_published_scores(scored):
    patients, published, mine, _ = scored
    known = published["IPSSM_SCORE"].notna()
    close = (mine["ipssm_score"] - published["IPSSM_SCORE"]).abs() <= 0.01 + 1e-9
    same_category = mine["ipssm_category"] == published["IPSSM"]
    print(
        f"\nIPSS-M: {close[known].sum()}/{known.sum()} within 0.01 ({close[known].mean():.2%}), "
        f"category {same_category[known].mean():.2%}"
    )
    for i in np.flatnonzero(known & ~close):
        print(f"  {patients.at[i, 'patient_id']}: ours {mine.at[i, 'ipssm_score']}, published {published.at[i, 'IPSSM_SCORE']}, Hb {patients.at[i, 'hb_g_dl']}")
    assert close[known].mean() >= 0.99
    assert same_category[known].mean() >= 0.99


def test_ipssr_matches_the_published_scores(scored):
    _, published, _, mine = scored
    known = published["IPSSR_SCORE"].notna()
    same = np.isclose(mine["ipssr_score"], published["IPSSR_SCORE"]) & known
    same_category = (mine["ipssr_category"] == published["IPSSR"]) & known
    print(f"\nIPSS-R: score {same.sum()}/{known.sum()} ({same.sum() / known.sum():.2%}), category {same_category.sum() / known.sum():.2%}")
    aged = published["IPSSRA_SCORE"].notna()
    close_age = np.isclose(mine["ipssra_score"], published["IPSSRA_SCORE"], atol=0.01) & aged
    print(f"IPSS-RA: score within 0.01 {close_age.sum() / aged.sum():.2%} (the release rounds age to whole years)")
    assert same.sum() / known.sum() >= 0.99
    assert same_category.sum() / known.sum() >= 0.99


def test_tp53_multihit_from_raw_data_matches_the_release(cohort):
    patients = derive_tp53(cohort.patients, cohort.variants)
    release = pd.read_csv(COHORT_DIR / "df_mut.tsv", sep="\t", usecols=["ID", "TP53multi"])
    ours = ipssm_variables(patients)["TP53multi"]
    assert (ours.to_numpy() == release["TP53multi"].to_numpy()).all()


@pytest.mark.parametrize("endpoint", ["os", "lfs"])
def test_harrell_c_of_the_scores(scored, endpoint):
    patients, published, mine_m, mine_r = scored
    time, event = patients[f"{endpoint}_years"], patients[f"{endpoint}_status"]
    results = {}
    for name, risk, theirs in (
        ("IPSS-M", mine_m["ipssm_score"], published["IPSSM_SCORE"]),
        ("IPSS-R", mine_r["ipssr_score"], published["IPSSR_SCORE"]),
    ):
        ok = time.notna() & event.notna() & risk.notna()
        c = concordance_index_censored(event[ok].astype(bool), time[ok], risk[ok])[0]
        both = ok & theirs.notna()
        c_both = concordance_index_censored(event[both].astype(bool), time[both], risk[both])[0]
        c_published = concordance_index_censored(event[both].astype(bool), time[both], theirs[both])[0]
        results[name] = c
        print(
            f"\nHarrell's C, {name} vs {endpoint.upper()}: ours {c:.3f} (n = {ok.sum()}); on the {both.sum()} "
            f"patients with a published score: ours {c_both:.3f}, published {c_published:.3f}"
        )
        assert c_both == pytest.approx(c_published, abs=0.002)
    reference = {"os": (0.748, 0.701), "lfs": (0.750, 0.704)}[endpoint]
    assert results["IPSS-M"] == pytest.approx(reference[0], abs=0.01)
    assert results["IPSS-R"] == pytest.approx(reference[1], abs=0.01)


def ipssr_case(**values):
    base = {"cyto_ipssr": "Good", "bm_blast_pct": 1.0, "hb_g_dl": 12.0, "plt_1e9_l": 200.0, "anc_1e9_l": 2.0, "age": 70.0}
    base.update(values)
    return ipssr(pd.DataFrame([base])).iloc[0]


@pytest.mark.parametrize(
    "values, score",
    [
        ({}, 1.0),
        ({"bm_blast_pct": 2.0}, 1.0),
        ({"bm_blast_pct": 2.5}, 2.0),
        ({"bm_blast_pct": 5.0}, 3.0),
        ({"bm_blast_pct": 10.0}, 3.0),
        ({"bm_blast_pct": 10.5}, 4.0),
        ({"hb_g_dl": 10.0}, 1.0),
        ({"hb_g_dl": 9.9}, 2.0),
        ({"hb_g_dl": 7.9}, 2.5),
        ({"plt_1e9_l": 100.0}, 1.0),
        ({"plt_1e9_l": 99.0}, 1.5),
        ({"plt_1e9_l": 49.0}, 2.0),
        ({"anc_1e9_l": 0.8}, 1.0),
        ({"anc_1e9_l": 0.79}, 1.5),
        ({"cyto_ipssr": "Very-Good"}, 0.0),
        ({"cyto_ipssr": "Very-Poor"}, 4.0),
    ],
)
def test_ipssr_points_at_every_boundary(values, score):
    assert ipssr_case(**values)["ipssr_score"] == score


@pytest.mark.parametrize("score, category", [(1.5, "Very-Low"), (2.0, "Low"), (3.0, "Low"), (3.5, "Int"), (4.5, "Int"), (5.0, "High"), (6.0, "High"), (6.5, "Very-High")])
def test_ipssr_categories(score, category):
    # cytogenetics + blasts + Hb reach the wanted score
    cases = {
        1.5: dict(anc_1e9_l=0.5),  # 1 + 0.5
        2.0: dict(plt_1e9_l=99.0, anc_1e9_l=0.5),  # 1 + 0.5 + 0.5
        3.0: dict(cyto_ipssr="Int", hb_g_dl=9.0),  # 2 + 1
        3.5: dict(cyto_ipssr="Int", hb_g_dl=7.0),  # 2 + 1.5
        4.5: dict(cyto_ipssr="Poor", hb_g_dl=7.0),  # 3 + 1.5
        5.0: dict(cyto_ipssr="Poor", bm_blast_pct=3.0, plt_1e9_l=99.0, anc_1e9_l=0.5),  # 3 + 1 + 0.5 + 0.5
        6.0: dict(cyto_ipssr="Very-Poor", bm_blast_pct=3.0, hb_g_dl=9.0),  # 4 + 1 + 1
        6.5: dict(cyto_ipssr="Very-Poor", bm_blast_pct=3.0, hb_g_dl=9.0, anc_1e9_l=0.5),  # 4 + 1 + 1 + 0.5
    }
    row = ipssr_case(**cases[score])
    assert row["ipssr_score"] == score and row["ipssr_category"] == category


def test_ipssr_is_missing_when_an_input_is():
    assert np.isnan(ipssr_case(hb_g_dl=np.nan)["ipssr_score"])


def test_age_adjustment_follows_the_formula():
    row = ipssr_case(age=80.0, hb_g_dl=9.0)  # score 2
    assert row["ipssra_score"] == pytest.approx(2 + 10 * (0.05 - 2 * 0.005))


def test_ipssm_scenarios_bracket_the_mean_when_genes_are_missing(scored):
    patients = scored[0]
    clinical = ["hb_g_dl", "plt_1e9_l", "bm_blast_pct", "cyto_ipssr"]
    patients = patients[patients[clinical].notna().all(axis=1)].iloc[:300].copy()
    complete = ipssm(patients)
    assert (complete["ipssm_score_best"] == complete["ipssm_score"]).all()
    assert (complete["ipssm_score_worst"] == complete["ipssm_score"]).all()
    for gene in ("ASXL1", "RUNX1", "NPM1", "STAG2", "WT1", "FLT3", "FLT3_ITD"):
        patients[f"mut_{gene}"] = np.nan
    partial = ipssm(patients)
    assert (partial["ipssm_score_best"] <= partial["ipssm_score"]).all()
    assert (partial["ipssm_score"] <= partial["ipssm_score_worst"]).all()
    assert (partial["ipssm_score_worst"] > partial["ipssm_score_best"]).all()


def test_nres2_scenarios_follow_the_published_rule():
    genes = ["BCOR", "BCORL1", "CEBPA", "ETNK1", "GATA2", "GNB1", "IDH1", "NF1", "PHF6", "PPM1D", "PRPF8", "PTPN11", "SETBP1", "STAG2", "WT1"]
    row = {f"mut_{g}": 0.0 for g in genes}
    row["mut_BCOR"] = 1.0
    for g in genes[-5:]:
        row[f"mut_{g}"] = np.nan  # M = 5 unsequenced, S = 10, Ns = 1
    result = nres2_scenarios(pd.DataFrame([row])).iloc[0]
    assert result["mean"] == pytest.approx(1 + (2 - 1) / 2 * 5 / 15 * 0.388)
    assert result["worst"] == 2 and result["best"] == 1


def mm(**values):
    base = {"b2m_mg_l": 2.0, "albumin_g_dl": 4.0, "del17p": 0.0, "t_4_14": 0.0, "t_14_16": 0.0, "gain_1q": 0.0, "ldh_high": 0.0}
    base.update(values)
    return pd.DataFrame([base])


@pytest.mark.parametrize(
    "values, stage",
    [
        ({}, 1), ({"b2m_mg_l": 3.49}, 1), ({"b2m_mg_l": 3.5}, 2), ({"albumin_g_dl": 3.49}, 2),
        ({"albumin_g_dl": 3.5}, 1), ({"b2m_mg_l": 5.49}, 2), ({"b2m_mg_l": 5.5}, 3), ({"b2m_mg_l": 6.0, "albumin_g_dl": 2.0}, 3),
    ],
)  # fmt: skip
def test_iss_boundaries(values, stage):
    assert iss(mm(**values)).at[0, "iss_stage"] == stage


@pytest.mark.parametrize(
    "values, stage",
    [
        ({}, 1), ({"del17p": 1.0}, 2), ({"t_4_14": 1.0}, 2), ({"t_14_16": 1.0}, 2), ({"ldh_high": 1.0}, 2),
        ({"b2m_mg_l": 4.0}, 2), ({"b2m_mg_l": 6.0}, 2), ({"b2m_mg_l": 6.0, "del17p": 1.0}, 3),
        ({"b2m_mg_l": 6.0, "ldh_high": 1.0}, 3), ({"b2m_mg_l": 6.0, "t_14_16": 1.0}, 3),
    ],
)  # fmt: skip
def test_riss_boundaries(values, stage):
    assert riss(mm(**values)).at[0, "riss_stage"] == stage


def test_riss_is_missing_when_the_inputs_cannot_decide():
    assert np.isnan(riss(mm(del17p=np.nan)).at[0, "riss_stage"])
    assert riss(mm(b2m_mg_l=4.0, del17p=np.nan)).at[0, "riss_stage"] == 2  # ISS II decides
    ldh = mm(ldh_high=np.nan).drop(columns="ldh_high").assign(ldh_u_l=300.0, ldh_uln_u_l=250.0)
    assert riss(ldh).at[0, "riss_stage"] == 2


@pytest.mark.parametrize(
    "values, score, group",
    [
        ({}, 0.0, "I"), ({"gain_1q": 1.0}, 0.5, "II"), ({"b2m_mg_l": 4.0}, 1.0, "II"),
        ({"b2m_mg_l": 6.0}, 1.5, "III"), ({"b2m_mg_l": 6.0, "gain_1q": 1.0, "t_4_14": 0.0, "ldh_high": 0.0, "del17p": 0.0}, 2.0, "III"),
        ({"b2m_mg_l": 6.0, "del17p": 1.0}, 2.5, "III"), ({"b2m_mg_l": 6.0, "del17p": 1.0, "gain_1q": 1.0}, 3.0, "IV"),
        ({"b2m_mg_l": 6.0, "del17p": 1.0, "ldh_high": 1.0, "t_4_14": 1.0, "gain_1q": 1.0}, 5.0, "IV"),
    ],
)  # fmt: skip
def test_r2iss_points_and_groups(values, score, group):
    row = r2iss(mm(**values)).iloc[0]
    assert row["r2iss_score"] == score and row["r2iss_category"] == group


def test_score_command_on_a_clinician_file(cohort, tmp_path, capsys):
    patients = derive_tp53(cohort.patients, cohort.variants).iloc[:40]
    source = tmp_path / "cohort.parquet"
    patients.to_parquet(source)
    out = tmp_path / "ipssm.tsv"
    assert main(["score", "ipssm", str(source), "-o", str(out)]) == 0
    table = pd.read_csv(out, sep="\t")
    assert len(table) == 40 and {"ipssm_score", "ipssm_category", "ipssm_score_best", "ipssm_score_worst"} <= set(table.columns)
    expected = ipssm(patients)["ipssm_score"].to_numpy()
    assert np.allclose(table["ipssm_score"].to_numpy(), expected)


def test_score_command_rejects_bad_rows_naming_row_and_column(tmp_path, capsys):
    frame = pd.DataFrame({"patient_id": ["a", "b", "c"], "b2m_mg_l": [2.0, -1.0, 4.0], "albumin_g_dl": [4.0, 3.0, 40.0]})
    source = tmp_path / "mm.parquet"
    frame.to_parquet(source)
    out = tmp_path / "iss.tsv"
    assert main(["score", "iss", str(source), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{source}, row 2, column 'b2m_mg_l': value -1 mg/L is outside" in err
    assert f"{source}, row 3, column 'albumin_g_dl': value 40 g/dL is outside" in err
    assert not out.exists()
    csv = tmp_path / "mm.csv"
    frame.drop(columns="albumin_g_dl").to_csv(csv, index=False)
    assert main(["score", "riss", str(csv), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{csv}, line 1, column 'albumin_g_dl': required column is missing" in err
    assert f"{csv}, line 3, column 'b2m_mg_l'" in err
