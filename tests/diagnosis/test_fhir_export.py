"""FHIR export of a site's harmonised MDS data: round trip, missing values, validation, where it
is written and what happens without patients.parquet."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient

from fedheme.data.iwgpm.validation import derive_tp53
from fedheme.diagnosis.classification import icc2022, who2022, with_sf3b1_vaf
from fedheme.diagnosis.fhir import (
    AGE,
    DEFAULT_BUNDLE,
    LABS,
    VARIABLE_SYSTEM,
    read_site_bundle,
    site_bundle,
    write_site_bundle,
)

NUMERIC = [AGE.column, *(m.column for m in LABS)]


@pytest.fixture(scope="module")
def site(cohort, tmp_path_factory) -> Path:
    """``<tmp>/sites/siteX/private`` with 30 patients of the bundled cohort, their variants and
    classification, and a few values blanked to exercise the missing-value paths."""
    patients = cohort.patients.head(30).reset_index(drop=True).copy()
    patients.loc[0, "hb_g_dl"] = math.nan
    patients.loc[1, ["karyotype", "age"]] = [None, math.nan]
    patients.loc[2, "who_2016"] = None
    variants = cohort.variants[cohort.variants["patient_id"].isin(patients["patient_id"])].reset_index(drop=True).copy()
    variants.loc[0, "vaf"] = math.nan
    rows = with_sf3b1_vaf(derive_tp53(patients, variants), variants)
    labels = pd.concat([rows[["patient_id", "who_2016"]], who2022(rows), icc2022(rows)], axis=1)
    private = tmp_path_factory.mktemp("fhir") / "sites" / "siteX" / "private"
    private.mkdir(parents=True)
    patients.to_parquet(private / "patients.parquet", index=False)
    variants.to_parquet(private / "variants.parquet", index=False)
    labels.to_parquet(private / "classification.parquet", index=False)
    return private


@pytest.fixture(scope="module")
def written(site) -> Path:
    return write_site_bundle(site)


def test_output_defaults_to_the_private_folder(site, written):
    assert written == site / DEFAULT_BUNDLE and written.is_file()
    assert write_site_bundle(site.parent, out=site / "again.json") == site / "again.json"  # the site folder works too
    assert (site / "again.json").read_bytes() == written.read_bytes()  # reproducible: same data, same file


def test_bundle_validates_and_is_pseudonymous(written):
    bundle = Bundle.model_validate_json(written.read_text(encoding="utf-8"))
    assert bundle.type == "collection"
    urls = {e.fullUrl for e in bundle.entry}
    assert len(urls) == len(bundle.entry)
    patients = [e.resource for e in bundle.entry if isinstance(e.resource, Patient)]
    assert len(patients) == 30
    for p in patients:
        assert p.name is None and p.birthDate is None and p.address is None and p.telecom is None
        assert p.identifier[0].system == "https://fedheme.org/fhir/sid/siteX/patient-id"
    for e in bundle.entry:
        assert isinstance(e.resource, (Patient, Observation, Condition))
        if not isinstance(e.resource, Patient):
            assert e.resource.subject.reference in urls


def test_round_trip(site, written):
    source = pd.read_parquet(site / "patients.parquet")
    labels = pd.read_parquet(site / "classification.parquet")
    back = read_site_bundle(written)
    patients = back["patients"]
    assert patients["patient_id"].tolist() == source["patient_id"].tolist()
    assert patients["sex"].tolist() == source["sex"].tolist()
    np.testing.assert_allclose(patients[NUMERIC].to_numpy(float), source[NUMERIC].to_numpy(float), rtol=1e-12, equal_nan=True)
    for column, frame in (("karyotype", source), ("who_2016", source), ("who2022", labels), ("icc2022", labels)):
        assert patients[column].where(patients[column].notna(), None).tolist() == frame[column].where(frame[column].notna(), None).tolist()
    for label, reason in (("who2022", "who2022_reason"), ("icc2022", "icc2022_reason")):
        classified = labels[label].notna()
        assert classified.any()
        assert patients.loc[classified, reason].tolist() == labels.loc[classified, reason].tolist()

    variants = pd.read_parquet(site / "variants.parquet")
    got = back["variants"]
    assert len(got) == len(variants) > 0
    assert got["patient_id"].tolist() == variants["patient_id"].tolist()
    assert got["gene"].tolist() == variants["gene"].tolist()
    np.testing.assert_allclose(got["vaf"].to_numpy(float), variants["vaf"].to_numpy(float), rtol=1e-12, equal_nan=True)
    assert math.isnan(got.loc[0, "vaf"])


def test_missing_values_produce_no_observation(site):
    source = pd.read_parquet(site / "patients.parquet")
    bundle = site_bundle(site)
    by_url = {e.fullUrl: e.resource.identifier[0].value for e in bundle.entry if isinstance(e.resource, Patient)}
    exported: dict[str, set[str]] = {}
    for e in bundle.entry:
        if isinstance(e.resource, Observation):
            codes = [c.code for c in e.resource.code.coding if c.system == VARIABLE_SYSTEM]
            if codes:
                exported.setdefault(codes[0], set()).add(by_url[e.resource.subject.reference])
    for column in [*NUMERIC, "karyotype"]:
        present = set(source.loc[source[column].notna(), "patient_id"])
        assert exported.get(column, set()) == present, column
    first, second, third = source["patient_id"].iloc[:3]
    assert first not in exported["hb_g_dl"]
    assert second not in exported["karyotype"] and second not in exported["age"]
    who2016 = [e for e in bundle.entry if isinstance(e.resource, Condition) and "who2016" in e.resource.code.coding[0].system]
    assert third not in {by_url[e.resource.subject.reference] for e in who2016}
    assert len(who2016) == source["who_2016"].notna().sum()


def test_vaf_component_is_a_fraction(site):
    bundle = site_bundle(site)
    variant = next(e.resource for e in bundle.entry if isinstance(e.resource, Observation) and e.resource.component)
    codes = {c.code.coding[0].code: c for c in variant.component}
    assert variant.code.coding[0].code == "69548-6"
    assert "81258-6" not in codes  # the first variant's VAF was blanked
    with_vaf = [e.resource for e in bundle.entry if isinstance(e.resource, Observation) and e.resource.component][1]
    vaf = {c.code.coding[0].code: c for c in with_vaf.component}["81258-6"].valueQuantity
    assert vaf.code == "1" and 0 < vaf.value <= 1


def test_missing_patients_file_is_named_and_nothing_is_written(tmp_path):
    private = tmp_path / "sites" / "siteY" / "private"
    private.mkdir(parents=True)
    pd.DataFrame({"patient_id": ["p1"], "gene": ["TP53"], "vaf": [0.4]}).to_parquet(private / "variants.parquet")
    before = sorted(p.name for p in private.iterdir())
    with pytest.raises(FileNotFoundError, match="patients.parquet"):
        write_site_bundle(private)
    with pytest.raises(FileNotFoundError, match=str(private / "patients.parquet").replace(".", r"\.")):
        write_site_bundle(private, out=tmp_path / "out.json")
    assert sorted(p.name for p in private.iterdir()) == before
    assert not (tmp_path / "out.json").exists()


def test_export_fhir_command(site, tmp_path, capsys):
    from fedheme.cli import main

    out = tmp_path / "elsewhere.json"
    assert main(["export-fhir", str(site), "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert "pseudonymous patient-level data" in captured.out and "outside the site's private folder" in captured.err
    assert read_site_bundle(out)["patients"]["patient_id"].nunique() > 0
    empty = tmp_path / "empty_site"
    (empty / "private").mkdir(parents=True)
    assert main(["export-fhir", str(empty), "-o", str(tmp_path / "none.json")]) == 2
    assert "patients.parquet" in capsys.readouterr().err and not (tmp_path / "none.json").exists()
