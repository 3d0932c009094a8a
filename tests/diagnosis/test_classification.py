"""WHO 2022 and ICC 2022 MDS classification: every threshold on both sides, precedence,
missing inputs, and the bundled cohort."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from fedheme.data.iwgpm.validation import derive_tp53
from fedheme.diagnosis.classification import (
    ICC2022_LABELS,
    NOT_CLASSIFIABLE,
    WHO2022_LABELS,
    classify,
    crosstab,
    icc2022,
    max_vaf,
    who2022,
    with_sf3b1_vaf,
)

NAN = math.nan
BASE = dict(
    patient_id="p1", who_2016=None, bm_blast_pct=2.0, pb_blast_pct=0.0, wbc_1e9_l=4.0, monocytes_1e9_l=0.2,
    anc_1e9_l=2.0, hb_g_dl=10.0, plt_1e9_l=150.0, ringed_sideroblasts_pct=0.0, karyotype="46,xy[20]",
    complex_karyotype=0.0, chr17_status="normal", cna_del5q=0.0, cna_del7=0.0, cna_del7q=0.0, cna_del17p=0.0,
    cna_plus8=0.0, cna_del20q=0.0, cna_r_3_3=0.0, cna_r_3_21=0.0, mut_SF3B1=0.0, mut_TP53=0.0, mut_RUNX1=0.0,
    mut_NPM1=0.0, tp53_n_mut=0.0, tp53_max_vaf=0.0, sf3b1_max_vaf=NAN,
)  # fmt: skip
SF3B1 = dict(mut_SF3B1=1.0, sf3b1_max_vaf=0.35)


def frame(*rows: dict) -> pd.DataFrame:
    """Patients: BASE (a low-blast, normal-karyotype, unmutated MDS) with each row's changes."""
    return pd.DataFrame([{**BASE, "patient_id": f"p{i}", **row} for i, row in enumerate(rows)])


def who(use_who2016: bool = True, **changes) -> tuple[str | None, str]:
    out = who2022(frame(changes), use_who2016).iloc[0]
    return out["who2022"], out["who2022_reason"]


def icc(use_who2016: bool = True, **changes) -> tuple[str | None, str]:
    out = icc2022(frame(changes), use_who2016).iloc[0]
    return out["icc2022"], out["icc2022_reason"]


def unclassifiable(result: tuple[str | None, str], column: str) -> bool:
    label, reason = result
    return pd.isna(label) and reason.startswith(f"{NOT_CLASSIFIABLE}: missing ") and column in reason


@pytest.mark.parametrize(
    "bm, pb, who_label, icc_label",
    [
        (4.9, 0.0, "MDS-LB", "MDS-NOS"), (5.0, 0.0, "MDS-IB1", "MDS-EB"), (9.9, 0.0, "MDS-IB1", "MDS-EB"),
        (10.0, 0.0, "MDS-IB2", "MDS/AML"), (19.9, 0.0, "MDS-IB2", "MDS/AML"), (20.0, 0.0, "AML", "AML"),
        (0.0, 1.9, "MDS-LB", "MDS-NOS"), (0.0, 2.0, "MDS-IB1", "MDS-EB"), (0.0, 4.9, "MDS-IB1", "MDS-EB"),
        (0.0, 5.0, "MDS-IB2", "MDS-EB"), (0.0, 9.9, "MDS-IB2", "MDS-EB"), (0.0, 10.0, "MDS-IB2", "MDS/AML"),
        (0.0, 19.9, "MDS-IB2", "MDS/AML"), (0.0, 20.0, "AML", "AML"), (3.0, 4.0, "MDS-IB1", "MDS-EB"),
    ],
)  # fmt: skip
def test_blast_thresholds(bm, pb, who_label, icc_label):
    assert who(bm_blast_pct=bm, pb_blast_pct=pb)[0] == who_label
    assert icc(bm_blast_pct=bm, pb_blast_pct=pb)[0] == icc_label


@pytest.mark.parametrize(
    "monocytes, wbc, is_cmml",
    [(0.49, 4.0, False), (0.5, 4.0, True), (0.5, 5.0, True), (0.5, 5.06, False), (1.2, 12.0, True), (1.2, 12.2, False)],
)
def test_cmml_monocytosis_absolute_and_relative(monocytes, wbc, is_cmml):
    for system in (who, icc):
        label = system(monocytes_1e9_l=monocytes, wbc_1e9_l=wbc)[0]
        assert (label == "CMML") is is_cmml
        assert label is not None


def test_cmml_precedence():
    mono = dict(monocytes_1e9_l=1.0, wbc_1e9_l=5.0)
    assert who(bm_blast_pct=20.0, **mono)[0] == icc(bm_blast_pct=20.0, **mono)[0] == "AML"
    assert who(bm_blast_pct=19.9, **mono)[0] == icc(bm_blast_pct=19.9, **mono)[0] == "CMML"
    assert who(tp53_n_mut=2.0, tp53_max_vaf=0.4, **mono)[0] == "CMML"
    assert who(cna_del5q=1.0, **mono)[0] == "CMML"


@pytest.mark.parametrize("rs, who_label", [(14.9, "MDS-LB"), (15.0, "MDS-SF3B1")])
def test_ring_sideroblasts_stand_in_for_sf3b1_in_who_only(rs, who_label):
    assert who(ringed_sideroblasts_pct=rs)[0] == who_label
    assert icc(ringed_sideroblasts_pct=rs)[0] == "MDS-NOS"


@pytest.mark.parametrize("vaf, icc_label", [(0.099, "MDS-NOS"), (0.10, "MDS-SF3B1"), (NAN, "MDS-SF3B1")])
def test_icc_sf3b1_vaf_threshold(vaf, icc_label):
    assert icc(mut_SF3B1=1.0, sf3b1_max_vaf=vaf)[0] == icc_label
    assert who(mut_SF3B1=1.0, sf3b1_max_vaf=vaf)[0] == "MDS-SF3B1"


@pytest.mark.parametrize(
    "changes, who_label, icc_label",
    [
        (dict(cna_del7=1.0), "MDS-LB", "MDS-NOS"),
        (dict(cna_del7q=1.0), "MDS-LB", "MDS-NOS"),
        (dict(complex_karyotype=1.0, cna_plus8=1.0, cna_del20q=1.0, cna_del17p=1.0), "MDS-LB", "MDS-NOS"),
        (dict(cna_r_3_3=1.0), "MDS-SF3B1", "MDS-NOS"),
        (dict(mut_RUNX1=1.0), "MDS-SF3B1", "MDS-NOS"),
        (dict(cna_del5q=1.0), "MDS-5q", "MDS-del(5q)"),
        (dict(bm_blast_pct=5.0), "MDS-IB1", "MDS-EB"),
        (dict(pb_blast_pct=2.0), "MDS-IB1", "MDS-EB"),
        (dict(bm_blast_pct=4.9, pb_blast_pct=1.9), "MDS-SF3B1", "MDS-SF3B1"),
    ],
)  # fmt: skip
def test_sf3b1_exclusions(changes, who_label, icc_label):
    assert who(**SF3B1, **changes)[0] == who_label
    assert icc(**SF3B1, **changes)[0] == icc_label


@pytest.mark.parametrize(
    "changes, isolated",
    [
        (dict(), True),
        (dict(cna_plus8=1.0), True),
        (dict(cna_plus8=1.0, cna_del20q=1.0), False),
        (dict(cna_del7=1.0), False),
        (dict(cna_del7q=1.0), False),
        (dict(complex_karyotype=1.0), False),
    ],
)
def test_del5q_with_0_1_2_other_abnormalities_and_minus7(changes, isolated):
    assert who(cna_del5q=1.0, **changes)[0] == ("MDS-5q" if isolated else "MDS-LB")
    assert icc(cna_del5q=1.0, **changes)[0] == ("MDS-del(5q)" if isolated else "MDS-NOS")


def test_del5q_needs_low_blasts():
    assert who(cna_del5q=1.0, bm_blast_pct=5.0)[0] == "MDS-IB1"
    assert who(cna_del5q=1.0, pb_blast_pct=2.0)[0] == "MDS-IB1"
    assert icc(cna_del5q=1.0, bm_blast_pct=5.0)[0] == "MDS-EB"


@pytest.mark.parametrize(
    "changes, who_label",
    [
        (dict(tp53_n_mut=2.0, tp53_max_vaf=0.3), "MDS-biTP53"),
        (dict(tp53_n_mut=2.0, tp53_max_vaf=0.3, bm_blast_pct=19.9), "MDS-biTP53"),
        (dict(tp53_n_mut=2.0, tp53_max_vaf=0.3, bm_blast_pct=20.0), "AML"),
        (dict(tp53_n_mut=1.0, tp53_max_vaf=0.3, chr17_status="del"), "MDS-biTP53"),
        (dict(tp53_n_mut=1.0, tp53_max_vaf=0.3, chr17_status="cnloh"), "MDS-biTP53"),
        (dict(tp53_n_mut=1.0, tp53_max_vaf=0.3), "MDS-LB"),
        (dict(tp53_n_mut=1.0, tp53_max_vaf=0.56), "MDS-biTP53"),
        (dict(tp53_n_mut=2.0, tp53_max_vaf=0.3, cna_del5q=1.0, **SF3B1), "MDS-biTP53"),
    ],
)
def test_who_biallelic_tp53_and_its_precedence(changes, who_label):
    assert who(mut_TP53=1.0, **changes)[0] == who_label


@pytest.mark.parametrize(
    "changes, icc_label",
    [
        (dict(bm_blast_pct=12.0, tp53_n_mut=1.0, tp53_max_vaf=0.10), "MDS/AML"),
        (dict(bm_blast_pct=12.0, tp53_n_mut=1.0, tp53_max_vaf=0.101), "MDS/AML with mutated TP53"),
        (dict(pb_blast_pct=10.0, tp53_n_mut=1.0, tp53_max_vaf=0.101), "MDS/AML with mutated TP53"),
        (dict(complex_karyotype=1.0, tp53_n_mut=1.0, tp53_max_vaf=0.10), "MDS-NOS"),
        (dict(complex_karyotype=1.0, tp53_n_mut=1.0, tp53_max_vaf=0.101), "MDS with mutated TP53"),
        (dict(bm_blast_pct=9.9, tp53_n_mut=2.0, tp53_max_vaf=0.3), "MDS with mutated TP53"),
        (dict(tp53_n_mut=2.0, tp53_max_vaf=0.09), "MDS-NOS"),  # multi-hit below ICC's 10% VAF
        (dict(tp53_n_mut=1.0, tp53_max_vaf=0.3, cna_del5q=1.0), "MDS-del(5q)"),
        (dict(tp53_n_mut=2.0, tp53_max_vaf=0.3, cna_del5q=1.0), "MDS with mutated TP53"),
        (dict(bm_blast_pct=20.0, tp53_n_mut=2.0, tp53_max_vaf=0.3), "AML"),
    ],
)
def test_icc_tp53_categories(changes, icc_label):
    assert icc(mut_TP53=1.0, **changes)[0] == icc_label


def test_multihit_below_icc_vaf_is_still_who_bitp53():
    assert who(mut_TP53=1.0, tp53_n_mut=2.0, tp53_max_vaf=0.09)[0] == "MDS-biTP53"


def test_npm1_defines_aml_at_any_blast_count_in_who_only():
    assert who(mut_NPM1=1.0)[0] == "AML"
    assert icc(mut_NPM1=1.0)[0] == "MDS-NOS"
    assert icc(mut_NPM1=1.0, bm_blast_pct=9.9)[0] == "MDS-EB"
    assert icc(mut_NPM1=1.0, bm_blast_pct=10.0)[0] == "AML"


@pytest.mark.parametrize("platelets, thrombocytosis", [(449.0, False), (450.0, True)])
def test_mds_mpn_with_sf3b1_and_thrombocytosis(platelets, thrombocytosis):
    assert who(plt_1e9_l=platelets, **SF3B1)[0] == ("MDS/MPN-SF3B1-T" if thrombocytosis else "MDS-SF3B1")
    assert icc(plt_1e9_l=platelets, **SF3B1)[0] == ("MDS/MPN-T-SF3B1" if thrombocytosis else "MDS-SF3B1")
    assert icc(plt_1e9_l=platelets, ringed_sideroblasts_pct=15.0)[0] == ("MDS/MPN-RS-T" if thrombocytosis else "MDS-NOS")


def test_mds_mpn_t_needs_pb_blasts_under_1_and_no_del5q():
    assert who(plt_1e9_l=500.0, pb_blast_pct=1.0, **SF3B1)[0] == "MDS-SF3B1"
    assert who(plt_1e9_l=500.0, cna_del5q=1.0, **SF3B1)[0] == "MDS-5q"


# --- missing inputs ----------------------------------------------------------------------


def test_missing_value_that_cannot_change_the_answer_does_not_block():
    assert who(pb_blast_pct=NAN, bm_blast_pct=25.0)[0] == icc(pb_blast_pct=NAN, bm_blast_pct=25.0)[0] == "AML"
    assert who(monocytes_1e9_l=0.3, wbc_1e9_l=NAN)[0] == "MDS-LB"  # under 0.5 x 10^9/L whatever the WBC
    assert who(ringed_sideroblasts_pct=NAN, **SF3B1)[0] == "MDS-SF3B1"  # the mutation suffices
    assert icc(ringed_sideroblasts_pct=NAN)[0] == "MDS-NOS"  # ICC does not use ring sideroblasts here
    assert icc(mut_NPM1=NAN)[0] == "MDS-NOS"  # NPM1 needs >= 10% blasts in ICC
    assert who(cna_del5q=1.0, cna_plus8=NAN)[0] == "MDS-5q"  # at most one other abnormality either way


@pytest.mark.parametrize(
    "changes, column",
    [
        (dict(bm_blast_pct=12.0, pb_blast_pct=NAN), "pb_blast_pct"),  # PB could be >= 20%
        (dict(bm_blast_pct=NAN, pb_blast_pct=6.0), "bm_blast_pct"),
        (dict(monocytes_1e9_l=NAN), "monocytes_1e9_l"),
        (dict(monocytes_1e9_l=0.6, wbc_1e9_l=NAN), "wbc_1e9_l"),
        (dict(tp53_n_mut=NAN, tp53_max_vaf=NAN, mut_TP53=NAN), "tp53_n_mut"),
        (dict(mut_TP53=1.0, tp53_n_mut=1.0, tp53_max_vaf=0.3, chr17_status=None), "chr17_status"),
        (dict(cna_del5q=1.0, cna_plus8=1.0, cna_del20q=NAN), "cna_del20q"),
    ],
)
def test_missing_deciding_input_is_not_classifiable(changes, column):
    assert unclassifiable(who(**changes), column)
    assert unclassifiable(icc(**changes), column)


def test_missing_ring_sideroblasts_block_who_only_without_sf3b1():
    assert unclassifiable(who(ringed_sideroblasts_pct=NAN), "ringed_sideroblasts_pct")
    assert unclassifiable(who(mut_NPM1=NAN), "mut_NPM1")
    assert unclassifiable(icc(mut_NPM1=NAN, bm_blast_pct=12.0), "mut_NPM1")


def test_who2016_diagnosis_bounds_missing_values():
    eb2 = dict(bm_blast_pct=12.0, pb_blast_pct=NAN, who_2016="MDS-EB2")
    label, reason = who(**eb2)
    assert label == "MDS-IB2" and "pb_blast_pct bounded by the WHO 2016 diagnosis" in reason
    assert icc(**eb2)[0] == "MDS/AML"
    assert unclassifiable(who(use_who2016=False, **eb2), "pb_blast_pct")
    assert who(pb_blast_pct=NAN, who_2016="MDS-SLD")[0] == "MDS-LB"  # WHO 2016 MDS-SLD: PB < 1%
    assert who(pb_blast_pct=NAN, who_2016="MDS-U")[0] == "MDS-LB"  # MDS-U: PB <= 1%
    assert unclassifiable(who(bm_blast_pct=3.0, pb_blast_pct=NAN, who_2016="MDS-EB1"), "pb_blast_pct")
    assert who(ringed_sideroblasts_pct=NAN, who_2016="MDS-RS-SLD")[0] == "MDS-SF3B1"
    assert who(ringed_sideroblasts_pct=NAN, who_2016="MDS-SLD")[0] == "MDS-LB"
    assert unclassifiable(who(ringed_sideroblasts_pct=NAN, who_2016="MDS-U"), "ringed_sideroblasts_pct")
    assert who(monocytes_1e9_l=NAN, who_2016="CMML")[0] == "CMML"
    assert who(monocytes_1e9_l=0.2, who_2016="CMML")[0] == "MDS-LB"  # a measured value wins


# --- API ---------------------------------------------------------------------------------


def test_classify_crosstab_and_max_vaf():
    patients = frame({}, dict(bm_blast_pct=12.0), dict(bm_blast_pct=12.0), dict(monocytes_1e9_l=NAN))
    patients["who_2016"] = ["MDS-SLD", "MDS-EB2", "MDS-EB2", None]
    pd.testing.assert_frame_equal(classify(patients, "who2022"), who2022(patients))
    pd.testing.assert_frame_equal(classify(patients, "icc"), icc2022(patients))
    with pytest.raises(ValueError, match="unknown classification"):
        classify(patients, "who2016")
    table = crosstab(patients[["who_2016"]].join(who2022(patients)).join(icc2022(patients)))
    assert table["n"].sum() == len(patients)
    rows = {tuple(r[:3]): r[3] for r in table.itertuples(index=False)}
    assert rows == {
        ("MDS-SLD", "MDS-LB", "MDS-NOS"): 1,
        ("MDS-EB2", "MDS-IB2", "MDS/AML"): 2,
        ("missing", NOT_CLASSIFIABLE, NOT_CLASSIFIABLE): 1,
    }
    variants = pd.DataFrame(
        {"patient_id": ["p0", "p0", "p1", "p1"], "gene": ["SF3B1", "SF3B1", "TP53", "SF3B1"], "vaf": [0.2, 0.4, 0.3, 0.05]}
    )
    assert max_vaf(variants, "SF3B1").to_dict() == {"p0": 0.4, "p1": 0.05}
    assert with_sf3b1_vaf(patients, variants)["sf3b1_max_vaf"].tolist()[:2] == [0.4, 0.05]


# --- the bundled cohort ------------------------------------------------------------------


@pytest.fixture(scope="module")
def labelled(cohort) -> pd.DataFrame:
    patients = with_sf3b1_vaf(derive_tp53(cohort.patients, cohort.variants), cohort.variants)
    return patients.join(who2022(patients)).join(icc2022(patients))


def test_cohort_every_patient_has_a_label_or_a_reason(labelled):
    for name, labels in (("who2022", WHO2022_LABELS), ("icc2022", ICC2022_LABELS)):
        label, reason = labelled[name], labelled[f"{name}_reason"]
        assert reason.notna().all()
        assert label.dropna().isin(labels).all()
        assert reason[label.isna()].str.match(rf"{NOT_CLASSIFIABLE}: missing \w").all()
        assert label.notna().mean() > 0.75
    assert len(crosstab(labelled)) > 20 and crosstab(labelled)["n"].sum() == len(labelled)


def _share(labelled: pd.DataFrame, mask: pd.Series, column: str, label: str) -> float:
    labels = labelled.loc[mask, column].dropna()
    return float((labels == label).mean())


def test_cohort_who2016_to_who2022_is_plausible(labelled):
    who2016 = labelled["who_2016"]
    assert _share(labelled, who2016 == "MDS-EB2", "who2022", "MDS-IB2") > 0.6
    assert _share(labelled, who2016 == "MDS-EB1", "who2022", "MDS-IB1") > 0.6
    assert _share(labelled, who2016 == "MDS-del5q", "who2022", "MDS-5q") > 0.6
    rs_sf3b1 = who2016.str.startswith("MDS-RS", na=False) & (labelled["mut_SF3B1"] == 1)
    assert _share(labelled, rs_sf3b1, "who2022", "MDS-SF3B1") > 0.6
    assert _share(labelled, who2016 == "CMML", "who2022", "CMML") > 0.9
    assert _share(labelled, who2016 == "MDS-EB2", "icc2022", "MDS/AML") > 0.5
    low = who2016.isin(["MDS-SLD", "MDS-MLD", "MDS-SLD/MLD", "MDS-RS-SLD", "MDS-RS-MLD", "MDS-del5q"])
    assert not labelled.loc[low, "who2022"].isin(["MDS-IB1", "MDS-IB2"]).any()


def test_cohort_labels_agree_with_the_measured_blasts(labelled):
    bm, pb = labelled["bm_blast_pct"], labelled["pb_blast_pct"]
    measured = bm.notna() & pb.notna()
    who_label = labelled["who2022"].where(measured)
    low = (bm < 5) & (pb < 2)
    assert low[who_label.isin(["MDS-LB", "MDS-5q", "MDS-SF3B1"])].all()
    assert (~low & (bm < 10) & (pb < 5))[who_label == "MDS-IB1"].all()
    assert ((bm >= 10) | (pb >= 5))[who_label == "MDS-IB2"].all()
    assert ((bm >= 20) | (pb >= 20) | (labelled["mut_NPM1"] == 1))[who_label == "AML"].all()
    icc_label = labelled["icc2022"].where(measured)
    assert ((bm >= 10) | (pb >= 10))[icc_label.isin(["MDS/AML", "MDS/AML with mutated TP53"])].all()


def test_cohort_systems_agree_on_cmml_and_who2016_evidence_only_resolves(cohort, labelled):
    no_npm1 = labelled["mut_NPM1"] == 0
    both = labelled["who2022"].notna() & labelled["icc2022"].notna() & no_npm1
    assert ((labelled["who2022"] == "CMML") == (labelled["icc2022"] == "CMML"))[both].all()
    strict = who2022(labelled, use_who2016=False)["who2022"]
    assert strict.notna().sum() < labelled["who2022"].notna().sum()
    assert (strict == labelled["who2022"])[strict.notna()].all()
    strict_icc = icc2022(labelled, use_who2016=False)["icc2022"]
    assert (strict_icc == labelled["icc2022"])[strict_icc.notna()].all()
