"""Bad exports get errors naming the file, the line and the column, and leave nothing behind."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from fedheme.cli import main
from fedheme.data.iwgpm.dialects import load_dialect
from fedheme.data.iwgpm.ingest import IngestOutputs, ingest_site
from fedheme.data.issues import ExportValidationError
from fedheme.data.iwgpm.validation import read_site_export


def read_rows(path: Path, dialect) -> list[list[str]]:
    with open(path, encoding=dialect.encoding, newline="") as handle:
        return list(csv.reader(handle, delimiter=dialect.delimiter))


def write_rows(path: Path, rows, dialect, delimiter=None, encoding=None) -> None:
    with open(path, "w", encoding=encoding or dialect.encoding, newline="") as handle:
        csv.writer(handle, delimiter=delimiter or dialect.delimiter, lineterminator="\n").writerows(rows)


def set_cell(path: Path, dialect, line: int, column: str, value: str) -> None:
    """Overwrite the cell at 1-based file ``line`` in ``column`` (as exported)."""
    rows = read_rows(path, dialect)
    rows[line - 1][rows[0].index(column)] = value
    write_rows(path, rows, dialect)


def drop_column(path: Path, dialect, column: str) -> None:
    rows = read_rows(path, dialect)
    index = rows[0].index(column)
    write_rows(path, [r[:index] + r[index + 1 :] for r in rows], dialect)


def copy_cell(path: Path, dialect, column: str, from_line: int, to_line: int) -> None:
    rows = read_rows(path, dialect)
    index = rows[0].index(column)
    rows[to_line - 1][index] = rows[from_line - 1][index]
    write_rows(path, rows, dialect)


def run_cli(capsys, patients, dialect_name, variants, output):
    code = main(["validate-site", str(patients), "--dialect", dialect_name, "--variants", str(variants), "-o", str(output)])
    captured = capsys.readouterr()
    return code, captured.err


def corrupt_missing_column(p, v, d):
    drop_column(p, d, "Haemoglobin_g_L")
    return p, 1, "Haemoglobin_g_L", "required column is missing"


def corrupt_unparseable_number(p, v, d):
    set_cell(p, d, 5, "Age_years", "sixty")
    return p, 5, "Age_years", "'sixty' is not a number"


def corrupt_decimal_mark(p, v, d):
    set_cell(p, d, 6, "Neutrophils_G_L", "1.5")
    return p, 6, "Neutrophils_G_L", "uses ',' as decimal mark"


def corrupt_out_of_range(p, v, d):
    # haemoglobin written in g/dL into the g/L column: 0.95 g/dL after conversion
    set_cell(p, d, 7, "Haemoglobin_g_L", "9,5")
    return p, 7, "Haemoglobin_g_L", "outside the physiological range [2, 25] g/dL (after conversion from g/L"


def corrupt_duplicate_id(p, v, d):
    copy_cell(p, d, "Pseudonym", from_line=3, to_line=9)
    return p, 9, "Pseudonym", "(first on line 3)"


def corrupt_negative_follow_up(p, v, d):
    set_cell(p, d, 4, "OS_time_years", "-1,5")
    return p, 4, "OS_time_years", "overall survival time -1.5 years is negative"


def corrupt_negative_transplant_time(p, v, d):
    set_cell(p, d, 5, "HSCT_allo", "1")
    set_cell(p, d, 5, "HSCT_days_from_diagnosis", "-5")
    return p, 5, "HSCT_days_from_diagnosis", "time to allogeneic transplant -5 days is negative"


def corrupt_transplant_after_follow_up(p, v, d):
    set_cell(p, d, 4, "HSCT_allo", "1")
    set_cell(p, d, 4, "HSCT_days_from_diagnosis", "20000")
    return p, 4, "HSCT_days_from_diagnosis", "transplant at day 20000 is after the end of follow-up"


def corrupt_transplant_date_without_transplant(p, v, d):
    set_cell(p, d, 7, "HSCT_allo", "0")
    set_cell(p, d, 7, "HSCT_days_from_diagnosis", "3")
    return p, 7, "HSCT_days_from_diagnosis", "a transplant date (3 days) is given while transplant is 0"


def corrupt_event_not_binary(p, v, d):
    set_cell(p, d, 6, "OS_event", "2")
    return p, 6, "OS_event", "2 is not 0 or 1"


def corrupt_event_word(p, v, d):
    set_cell(p, d, 8, "LFS_event", "dead")
    return p, 8, "LFS_event", "'dead' is not 0 or 1"


def corrupt_unknown_category(p, v, d):
    set_cell(p, d, 8, "Sex_code", "3")
    return p, 8, "Sex_code", "unknown category '3'; allowed: 1, 2"


def corrupt_status_without_time(p, v, d):
    set_cell(p, d, 10, "OS_time_years", "")
    return p, 10, "OS_time_years", "time missing while OS_event is given"


def corrupt_ragged_row(p, v, d):
    rows = read_rows(p, d)
    rows[10] = rows[10][:-2]
    write_rows(p, rows, d)
    return p, 11, None, "the row has"


def corrupt_variant_unknown_patient(p, v, d):
    set_cell(v, d, 2, "Pseudonym", "NOT-A-PATIENT")
    return v, 2, "Pseudonym", "patient ID 'NOT-A-PATIENT' is not in the patient table"


def corrupt_variant_vaf(p, v, d):
    set_cell(v, d, 3, "VAF_pct", "130")
    return v, 3, "VAF_pct", "outside the physiological range [0, 1] fraction"


def corrupt_empty_file(p, v, d):
    p.write_bytes(b"")
    return p, 1, None, "the file is empty"


def corrupt_wrong_delimiter(p, v, d):
    write_rows(p, read_rows(p, d), d, delimiter=",")
    return p, 1, None, "it looks delimited by ','"


def corrupt_wrong_encoding(p, v, d):
    rows = read_rows(p, d)
    rows[4][rows[0].index("Karyotype_ISCN")] = "46,XX,del(5q) Befund: auffällig"
    write_rows(p, rows, d, encoding="latin-1")
    return p, 5, "Karyotype_ISCN", "cannot be decoded as utf-8"


CASES = [
    corrupt_missing_column,
    corrupt_unparseable_number,
    corrupt_decimal_mark,
    corrupt_out_of_range,
    corrupt_duplicate_id,
    corrupt_negative_follow_up,
    corrupt_negative_transplant_time,
    corrupt_transplant_after_follow_up,
    corrupt_transplant_date_without_transplant,
    corrupt_event_not_binary,
    corrupt_event_word,
    corrupt_unknown_category,
    corrupt_status_without_time,
    corrupt_ragged_row,
    corrupt_variant_unknown_patient,
    corrupt_variant_vaf,
    corrupt_empty_file,
    corrupt_wrong_delimiter,
    corrupt_wrong_encoding,
]


@pytest.mark.parametrize("corrupt", CASES, ids=[c.__name__[len("corrupt_") :] for c in CASES])
def test_bad_export_is_rejected_with_file_line_and_column(corrupt, write_export, capsys, tmp_path):
    patients, variants, dialect = write_export("eu_semicolon")
    bad_file, line, column, text = corrupt(patients, variants, dialect)
    output = tmp_path / "out" / "harmonised.parquet"
    code, err = run_cli(capsys, patients, "eu_semicolon", variants, output)
    assert code == 1
    where = f"{bad_file}, line {line}" + (f", column '{column}'" if column else "")
    matching = [row for row in err.splitlines() if row.startswith(where)]
    assert matching, f"no error at {where!r} in:\n{err}"
    assert any(text in row for row in matching), f"{text!r} not in {matching}"
    assert not output.exists()
    assert not list(tmp_path.rglob("*.part")), "a temporary file was left behind"


def test_ingest_writes_nothing_for_a_bad_export(write_export, tmp_path):
    patients, variants, dialect = write_export("eu_semicolon")
    set_cell(patients, dialect, 5, "Age_years", "sixty")
    private = tmp_path / "site" / "private"
    outputs = IngestOutputs(*(private / n for n in ("p.parquet", "v.parquet", "qc.json", "qc.md", "flags.tsv")))
    with pytest.raises(ExportValidationError):
        ingest_site(site_id="s1", patients_path=patients, variants_path=variants, dialect_name="eu_semicolon", outputs=outputs)
    assert not private.exists() or not any(private.iterdir()), "nothing, not even the site key, is left"


def test_all_problems_are_reported_in_one_pass(write_export):
    patients, variants, dialect = write_export("eu_semicolon")
    set_cell(patients, dialect, 5, "Age_years", "sixty")
    set_cell(patients, dialect, 6, "OS_event", "2")
    set_cell(patients, dialect, 7, "Haemoglobin_g_L", "9,5")
    set_cell(patients, dialect, 8, "Sex_code", "X")
    with pytest.raises(ExportValidationError) as caught:
        read_site_export(patients, dialect, variants)
    lines = sorted(issue.line for issue in caught.value.issues)
    assert lines == [5, 6, 7, 8]


def test_error_collection_stops_at_the_limit(write_export):
    patients, variants, dialect = write_export("eu_semicolon")
    for line in range(2, 22):
        set_cell(patients, dialect, line, "Age_years", "?")
    with pytest.raises(ExportValidationError) as caught:
        read_site_export(patients, dialect, variants, max_errors=5)
    assert len(caught.value.issues) == 5 and caught.value.more == 15
    assert "and 15 more problems" in str(caught.value)


def test_clean_export_passes_with_exit_0(write_export, capsys, tmp_path):
    patients, variants, _ = write_export("registry_latin1")
    output = tmp_path / "harmonised.parquet"
    code, _ = run_cli(capsys, patients, "registry_latin1", variants, output)
    assert code == 0
    assert output.exists()


def test_unknown_dialect_is_a_usage_error(write_export, capsys):
    patients, variants, _ = write_export("fedheme")
    code = main(["validate-site", str(patients), "--dialect", "no_such_dialect"])
    assert code == 2
    assert "unknown dialect 'no_such_dialect'" in capsys.readouterr().err


def test_a_site_can_bring_its_own_dialect_file(small_sites, tmp_path):
    spec = tmp_path / "my_lab.yaml"
    spec.write_text(
        "name: my_lab\ndelimiter: ';'\ndecimal: ','\nencoding: utf-8\nmissing: ['-']\n"
        "columns: {patient_id: PID, hb_g_dl: HGB}\nunits: {hb_g_dl: mmol/L}\n"
    )
    dialect = load_dialect(str(spec))
    from fedheme.data.iwgpm.simulate import write_site_export

    write_site_export(small_sites[2], dialect, tmp_path / "p.csv", tmp_path / "v.csv")
    export = read_site_export(tmp_path / "p.csv", dialect, tmp_path / "v.csv")
    assert (export.patients["hb_g_dl"].to_numpy() == small_sites[2].cohort.patients["hb_g_dl"].to_numpy()).sum() > 0
    assert export.patients["patient_id"].tolist() == small_sites[2].cohort.patients["patient_id"].tolist()
