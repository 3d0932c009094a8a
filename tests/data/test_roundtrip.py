"""Simulated export -> ingestion gives back exactly the cohort's values, in every dialect."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from fedheme.data.iwgpm.dialects import builtin_dialects, load_dialect
from fedheme.data.iwgpm.simulate import SimulationSettings, simulate_sites, write_site_export
from fedheme.data.iwgpm.validation import read_site_export

from conftest import ROOT


def assert_same_values(truth: pd.DataFrame, got: pd.DataFrame) -> None:
    """Column by column: same values, same missing cells (NaN equals NaN, None equals None)."""
    got = got.reset_index(drop=True)
    for column in truth.columns:
        pd.testing.assert_series_equal(truth[column], got[column], check_names=False, obj=column)


def roundtrip(site, dialect_name, tmp_path):
    dialect = load_dialect(dialect_name)
    patients, variants = tmp_path / f"{site.site_id}_p.txt", tmp_path / f"{site.site_id}_v.txt"
    write_site_export(site, dialect, patients, variants)
    return read_site_export(patients, dialect, variants)


@pytest.mark.parametrize("dialect_name", builtin_dialects())
def test_every_dialect_round_trips_exactly(small_sites, dialect_name, tmp_path):
    site = small_sites[1]
    export = roundtrip(site, dialect_name, tmp_path)
    assert_same_values(site.cohort.patients, export.patients)
    assert_same_values(site.cohort.variants, export.variants)
    assert export.sequenced_genes == site.panel


def test_every_default_site_round_trips_exactly(cohort, tmp_path):
    """The 8 sites of config/config.yaml, each in the dialect of config/sites.tsv."""
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    sheet = pd.read_csv(ROOT / "config" / "sites.tsv", sep="\t", dtype=str, keep_default_na=False)
    sheet = sheet[sheet["disease"] == "mds"]
    settings = SimulationSettings.from_config(config["diseases"]["mds"]["simulation"])
    sites = simulate_sites(cohort, sheet["site_id"].tolist(), settings)
    assert sum(len(s.cohort.patients) for s in sites) == len(cohort.patients) == 2957
    for site, dialect_name in zip(sites, sheet["dialect"]):
        export = roundtrip(site, dialect_name, tmp_path)
        assert_same_values(site.cohort.patients, export.patients)
        assert_same_values(site.cohort.variants, export.variants)


def test_units_are_converted_in_the_export(small_sites, write_export):
    """The eu_semicolon export holds haemoglobin in g/L (10x g/dL), with decimal commas."""
    patients, _, dialect = write_export("eu_semicolon")
    raw = pd.read_csv(patients, sep=";", dtype=str, keep_default_na=False)
    truth = small_sites[0].cohort.patients
    hb = raw["Haemoglobin_g_L"].str.replace(",", ".").replace("", None).astype(float)
    pd.testing.assert_series_equal(hb / 10, truth["hb_g_dl"], check_names=False, rtol=1e-12)
    assert raw["Sex_code"].isin(["1", "2"]).all()


def test_off_panel_genes_are_missing_not_zero(small_sites, write_export):
    site = small_sites[0]
    patients, variants, dialect = write_export("iwgpm")
    export = read_site_export(patients, dialect, variants)
    off_panel = [g for g in site.cohort.patients if g.startswith("mut_") and g[4:] not in site.panel]
    assert off_panel, "the fixture's panel should leave genes out"
    assert export.patients[off_panel].isna().all().all()
    assert not export.variants["gene"].isin([g[4:] for g in off_panel]).any()


def test_tp53_features_are_derived_from_the_variant_table(cohort, small_sites, write_export):
    patients, variants, dialect = write_export("us_csv")
    export = read_site_export(patients, dialect, variants)
    tp53 = cohort.variants[cohort.variants["gene"] == "TP53"]
    expected = export.patients["patient_id"].map(tp53.groupby("patient_id").size()).fillna(0)
    assert (export.patients["tp53_n_mut"].to_numpy() == expected.to_numpy()).all()
    assert (export.patients["tp53_max_vaf"] >= 0).all()
