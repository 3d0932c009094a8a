"""Jobs of ``workflow/rules/simulate.smk``: simulated sites' exports, as hospitals would hand
them over (inside each simulated site)."""

from __future__ import annotations

from fedheme.io import write_json


def simulate_site_job(*, cohort_dir, site_ids: list[str], site_id: str, dialect_name: str, settings: dict,
                      out_patients, out_variants, out_summary) -> None:  # fmt: skip
    """Draw all simulated MDS sites (deterministic) and write ``site_id``'s export in its dialect."""
    from fedheme.data.iwgpm.cohort import load_iwgpm
    from fedheme.data.iwgpm.dialects import load_dialect
    from fedheme.data.iwgpm.simulate import SimulationSettings, simulate_sites, site_summary, write_site_export

    cohort = load_iwgpm(cohort_dir)
    sites = simulate_sites(cohort, list(site_ids), SimulationSettings.from_config(settings))
    site = next(s for s in sites if s.site_id == site_id)
    write_site_export(site, load_dialect(dialect_name), out_patients, out_variants)
    write_json(out_summary, site_summary(site, dialect_name))


def simulate_tabular_site_job(*, site_ids: list[str], site_id: str, generator: dict, out) -> None:
    """Draw all simulated sites of a tabular disease (deterministic) and write ``site_id``'s CSV."""
    from fedheme.data.tabular.simulate import GeneratorSettings, simulate_tabular, write_site_csv

    sites = simulate_tabular(list(site_ids), GeneratorSettings.from_config(generator))
    write_site_csv(sites[site_id], out)
