"""Site simulation: reproducible, sized, skewed and panelled as configured."""

from __future__ import annotations

import numpy as np
import pytest

from fedheme.standard.mds_catalogue import PANEL_GENES
from fedheme.data.iwgpm.simulate import CORE_GENES, SimulationSettings, simulate_sites
from fedheme.data.simulation import site_sizes

SITES = [f"site{i}" for i in range(1, 9)]


def test_same_seed_gives_the_same_sites(cohort):
    a = simulate_sites(cohort, SITES, SimulationSettings(seed=3))
    b = simulate_sites(cohort, SITES, SimulationSettings(seed=3))
    c = simulate_sites(cohort, SITES, SimulationSettings(seed=4))
    assert [s.cohort.patients["patient_id"].tolist() for s in a] == [s.cohort.patients["patient_id"].tolist() for s in b]
    assert [s.panel for s in a] == [s.panel for s in b]
    assert [len(s.cohort.patients) for s in a] != [len(s.cohort.patients) for s in c]


def test_every_patient_goes_to_exactly_one_site(cohort):
    sites = simulate_sites(cohort, SITES, SimulationSettings())
    ids = np.concatenate([s.cohort.patients["patient_id"].to_numpy() for s in sites])
    assert len(ids) == len(set(ids)) == len(cohort.patients)


def test_unequal_sizes_range_from_tens_to_hundreds(cohort):
    sizes = [len(s.cohort.patients) for s in simulate_sites(cohort, SITES, SimulationSettings())]
    assert min(sizes) >= 30 and max(sizes) >= 3 * min(sizes)
    equal = [len(s.cohort.patients) for s in simulate_sites(cohort, SITES, SimulationSettings(unequal_sizes=False))]
    assert max(equal) - min(equal) <= 1


def test_site_sizes_respect_the_minimum_and_sum():
    rng = np.random.default_rng(0)
    sizes = site_sizes(1000, 10, minimum=25, concentration=0.5, rng=rng)
    assert sizes.sum() == 1000 and sizes.min() >= 25
    equal = site_sizes(1003, 4, minimum=10, concentration=1.0, rng=rng, unequal=False)
    assert equal.tolist() == [251, 251, 251, 250]  # the 3 spare patients by largest remainder
    with pytest.raises(ValueError, match="cannot fill"):
        site_sizes(100, 10, minimum=20, concentration=1.0, rng=rng)


def test_case_mix_skews_age_only_when_switched_on(cohort):
    skewed = simulate_sites(cohort, SITES, SimulationSettings(case_mix_strength=1.0))
    plain = simulate_sites(cohort, SITES, SimulationSettings(case_mix=False))
    spread = lambda sites: np.ptp([s.cohort.patients["age"].mean() for s in sites])  # noqa: E731
    assert spread(skewed) > 8  # years between the youngest and oldest site
    assert spread(plain) < 5
    assert all(s.age_tilt == 0 and s.risk_tilt == 0 for s in plain)


def test_panels_leave_genes_missing_not_zero(cohort):
    sites = simulate_sites(cohort, SITES, SimulationSettings(panel_min_fraction=0.2))
    for site in sites:
        assert set(CORE_GENES) <= set(site.panel)
        off = [f"mut_{g}" for g in PANEL_GENES if g not in site.panel]
        assert site.cohort.patients[off].isna().all().all()
        on = [f"mut_{g}" for g in site.panel]
        assert site.cohort.patients[on].notna().all().all()
    assert len({len(s.panel) for s in sites}) > 1
    full = simulate_sites(cohort, SITES, SimulationSettings(panels=False))
    assert all(len(s.panel) == 126 for s in full)


def test_max_patients_subsamples_first(cohort):
    sites = simulate_sites(cohort, ["a", "b"], SimulationSettings(max_patients=100, min_site_size=10))
    assert sum(len(s.cohort.patients) for s in sites) == 100


def test_site_ids_must_be_unique(cohort):
    with pytest.raises(ValueError, match="unique"):
        simulate_sites(cohort, ["a", "a"], SimulationSettings())
