"""A site's released cross-tabulation, its pooling over sites, and `fedheme classify`."""

from __future__ import annotations

import pandas as pd

from fedheme.cli import main
from fedheme.diagnosis.classification import icc2022, who2022
from fedheme.diagnosis.pooling import pool_crosstabs
from fedheme.diagnosis.release import crosstab_release


def labels(rows: list[tuple[str, str, str, int]]) -> pd.DataFrame:
    out = [(a, b, c) for a, b, c, n in rows for _ in range(n)]
    return pd.DataFrame(out, columns=["who_2016", "who2022", "icc2022"])


def cells(release: dict) -> dict:
    return {(c["who_2016"], c["who2022"], c["icc2022"]): c["n"] for c in release["cells"]}


def test_small_cells_are_hidden_with_a_second_cell_of_their_who2016_row():
    release = crosstab_release(labels([("MDS-EB2", "MDS-IB2", "MDS/AML", 30), ("MDS-EB2", "MDS-biTP53", "MDS/AML with mutated TP53", 2),
                                       ("MDS-EB2", "CMML", "CMML", 8), ("MDS-SLD", "MDS-LB", "MDS-NOS", 12)]),
                               site_id="s1", min_cell_count=5)  # fmt: skip
    got = cells(release)
    # the small cell (2) is hidden; the site's MDS-EB2 total (40) is released elsewhere, so the
    # smallest other cell of that row (8) is hidden too; the MDS-SLD row is untouched
    assert got[("MDS-EB2", "MDS-biTP53", "MDS/AML with mutated TP53")] is None
    assert got[("MDS-EB2", "CMML", "CMML")] is None
    assert got[("MDS-EB2", "MDS-IB2", "MDS/AML")] == 30 and got[("MDS-SLD", "MDS-LB", "MDS-NOS")] == 12
    assert len(release["suppressed"]) == 2


def test_pooling_sums_released_cells_and_says_where_cells_were_hidden():
    a = crosstab_release(labels([("MDS-EB1", "MDS-IB1", "MDS-EB", 20), ("MDS-EB1", "CMML", "CMML", 3), ("MDS-EB1", "MDS-LB", "MDS-NOS", 6)]),
                         site_id="a", min_cell_count=5)  # fmt: skip
    b = crosstab_release(labels([("MDS-EB1", "MDS-IB1", "MDS-EB", 9), ("MDS-EB1", "CMML", "CMML", 7)]), site_id="b", min_cell_count=5)
    pooled = pool_crosstabs([a, b]).set_index(["who_2016", "who2022", "icc2022"])
    assert pooled.loc[("MDS-EB1", "MDS-IB1", "MDS-EB"), "n"] == 29
    cmml = pooled.loc[("MDS-EB1", "CMML", "CMML")]
    assert cmml["n"] == 7 and cmml["sites"] == 1 and cmml["sites_suppressed"] == 1 and "hidden at 1 sites" in cmml["note"]


def test_classify_command_on_a_clinician_file(cohort, tmp_path, capsys):
    from fedheme.data.iwgpm.validation import derive_tp53

    patients = derive_tp53(cohort.patients, cohort.variants).iloc[:60]
    source = tmp_path / "cohort.parquet"
    patients.to_parquet(source)
    out = tmp_path / "who2022.tsv"
    assert main(["classify", "who2022", str(source), "-o", str(out)]) == 0
    table = pd.read_csv(out, sep="\t")
    assert list(table.columns) == ["patient_id", "who2022", "who2022_reason"] and len(table) == 60
    expected = who2022(patients.reset_index(drop=True))
    assert table["who2022"].fillna("").tolist() == expected["who2022"].fillna("").tolist()
    assert table.loc[table["who2022"].isna(), "who2022_reason"].str.startswith("not classifiable: missing").all()
    out_icc = tmp_path / "icc.tsv"
    assert main(["classify", "icc", str(source), "-o", str(out_icc)]) == 0
    assert pd.read_csv(out_icc, sep="\t")["icc2022"].fillna("").tolist() == icc2022(patients.reset_index(drop=True))["icc2022"].fillna("").tolist()


def test_classify_command_rejects_bad_rows_naming_line_and_column(tmp_path, capsys):
    frame = pd.DataFrame({"patient_id": ["a", "b"], "bm_blast_pct": [4.0, 150.0], "pb_blast_pct": [0.0, 1.0]})
    source = tmp_path / "cohort.csv"
    frame.to_csv(source, index=False)
    out = tmp_path / "out.tsv"
    assert main(["classify", "icc", str(source), "-o", str(out)]) == 1
    assert f"{source}, line 3, column 'bm_blast_pct'" in capsys.readouterr().err
    assert not out.exists()
