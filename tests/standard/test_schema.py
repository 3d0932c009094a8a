"""The harmonised schema, its data dictionary and the bundled data's provenance."""

from __future__ import annotations

import hashlib

import pandas as pd

from fedheme.standard.mds import HARMONISED_VARIABLES, data_dictionary

from conftest import COHORT_DIR, ROOT


def test_committed_data_dictionary_is_up_to_date():
    committed = pd.read_csv(ROOT / "resources" / "data_dictionary.tsv", sep="\t", dtype=str, keep_default_na=False)
    fresh = data_dictionary().astype(str)
    pd.testing.assert_frame_equal(committed, fresh, check_dtype=False)


def test_every_variable_is_documented_and_coded_where_a_standard_exists():
    table = data_dictionary()
    assert (table["definition"] != "").all()
    labs = table[table["variable"].isin(["hb_g_dl", "plt_1e9_l", "anc_1e9_l", "wbc_1e9_l"])]
    assert (labs["code_system"] == "LOINC").all() and (labs["code"] != "").all()
    genes = table[table["variable"].str.startswith("mut_")]
    assert len(genes) == 126 and (genes["code_system"] == "HGNC").all()
    assert genes.set_index("variable").loc["mut_MLL", "code"] == "KMT2A"
    names = [v.name for v in HARMONISED_VARIABLES]
    assert len(names) == len(set(names))


def test_bundled_cohort_matches_its_checksums():
    for line in (COHORT_DIR / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        assert hashlib.sha256((COHORT_DIR / name).read_bytes()).hexdigest() == digest, name


def test_bundled_cohort_has_the_documented_size(cohort):
    assert len(cohort.patients) == 2957
    assert cohort.patients["os_status"].notna().sum() == 2811
    assert cohort.patients["lfs_status"].notna().sum() == 2616
