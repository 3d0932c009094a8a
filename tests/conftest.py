"""Shared fixtures: the bundled cohort, simulated sites and small exports in any dialect,
and one real run of the workflow on the small test config (shared by every test that
needs its outputs: the workflow, boundary and SLURM tests)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fedheme.data.iwgpm.cohort import load_iwgpm
from fedheme.data.iwgpm.dialects import load_dialect
from fedheme.data.iwgpm.simulate import SimulationSettings, simulate_sites, write_site_export

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


SMALL_CONFIG = "tests/fixtures/config_small.yaml"
#: Given after SMALL_CONFIG: the same study in privacy.mode deployment.
DEPLOYMENT_CONFIG = "tests/fixtures/config_deployment.yaml"
SMALL_SITES = ["siteA", "siteB", "siteC", "siteD"]


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(workdir), *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed:\n{result.stdout[-4000:]}\n{result.stderr[-6000:]}")
    return result


def make_workdir(tmp: Path) -> Path:
    """A working directory that sees the repository's config, resources and test data."""
    tmp.mkdir(parents=True, exist_ok=True)
    for name in ("config", "resources"):
        (tmp / name).symlink_to(ROOT / name)
    (tmp / "tests").mkdir()
    (tmp / "tests" / "fixtures").symlink_to(ROOT / "tests" / "fixtures")
    return tmp


@pytest.fixture(scope="session")
def small_run(tmp_path_factory):
    """One real run of the whole workflow on the small test config (shared by the session)."""
    workdir = make_workdir(tmp_path_factory.mktemp("run"))
    snakemake(workdir, "--configfile", SMALL_CONFIG, "--cores", "2")
    return workdir


@pytest.fixture(scope="session")
def deployment_run(tmp_path_factory):
    """One real run of the whole workflow on the small test config in deployment mode."""
    workdir = make_workdir(tmp_path_factory.mktemp("deployment"))
    snakemake(workdir, "--configfile", SMALL_CONFIG, DEPLOYMENT_CONFIG, "--cores", "2")
    return workdir
