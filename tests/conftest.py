"""Shared fixtures: the bundled cohort, simulated sites and small exports in any dialect."""

from __future__ import annotations

from pathlib import Path

import pytest

from fedheme.cohort import load_iwgpm
from fedheme.dialects import load_dialect
from fedheme.simulate import SimulationSettings, simulate_sites, write_site_export

ROOT = Path(__file__).resolve().parents[1]
COHORT_DIR = ROOT / "resources" / "mds-iwgpm"


@pytest.fixture(scope="session")
def cohort():
    return load_iwgpm(COHORT_DIR)


@pytest.fixture(scope="session")
def small_sites(cohort):
    """Three sites drawn from 240 patients, every kind of heterogeneity switched on."""
    settings = SimulationSettings(seed=5, max_patients=240, min_site_size=40, panel_min_fraction=0.3)
    return simulate_sites(cohort, ["s1", "s2", "s3"], settings)


@pytest.fixture
def write_export(small_sites, tmp_path):
    """Write site s1 in a dialect; returns (patients_path, variants_path, dialect)."""

    def _write(dialect_name: str = "fedheme"):
        dialect = load_dialect(dialect_name)
        patients = tmp_path / f"s1_{dialect_name}_patients.txt"
        variants = tmp_path / f"s1_{dialect_name}_variants.txt"
        write_site_export(small_sites[0], dialect, patients, variants)
        return patients, variants, dialect

    return _write
