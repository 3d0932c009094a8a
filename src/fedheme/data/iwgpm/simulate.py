"""Simulated hospital sites: the IWG-PM cohort split into K sites, as a network would see it.

The cohort records no contributing centre, so fedheme simulates one, reproducibly from a
seed, with heterogeneity each switchable from config:

- sizes: site shares drawn from a symmetric Dirichlet (small concentration = very unequal),
  above a minimum size;
- case mix: each site has its own tilt towards older or younger, higher- or lower-risk
  patients (risk proxy from marrow blasts, cytogenetics, haemoglobin and platelets);
- panels: each site sequences its own subset of genes; a gene off the panel is missing,
  not 0, and its variants are absent;
- dialects: units, codes, column names, delimiters and encodings, given per site in the
  sample sheet (``config/sites.tsv``) and written by :func:`write_site_export`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from fedheme.data.iwgpm.cohort import Cohort
from fedheme.data.simulation import site_sizes
from fedheme.data.iwgpm.dialects import Dialect, export_frame
from fedheme.io import atomic_path
from fedheme.standard.mds_catalogue import PANEL_GENES
from fedheme.standard.mds import (
    CYTO_IPSSR_CATEGORIES,
    DERIVED_VARIABLES,
    VARIABLES_BY_NAME,
    VARIANT_VARIABLES_BY_NAME,
    gene_column,
)

#: Genes every simulated panel covers: the commonest MDS drivers, on every myeloid panel.
CORE_GENES = ("TP53", "SF3B1", "ASXL1", "SRSF2", "RUNX1", "U2AF1", "EZH2", "DNMT3A", "TET2")


@dataclass(frozen=True)
class SimulationSettings:
    """Knobs of the site simulation (see ``config/README.md``).

    Attributes:
        seed: random seed; the same seed and settings give the same sites.
        max_patients: draw this many patients from the cohort first (None: all).
        unequal_sizes: draw site shares from Dirichlet(size_concentration) (else equal).
        size_concentration: Dirichlet concentration; 1 is very unequal, 100 nearly equal.
        min_site_size: no site gets fewer patients.
        case_mix: give each site a tilt on age and risk.
        case_mix_strength: standard deviation of the tilts (log-odds per sd of age/risk).
        panels: each site sequences a subset of genes.
        panel_min_fraction: a site's panel covers a fraction of the non-core genes drawn
            uniformly between this and 1.
        core_genes: genes on every panel.
    """

    seed: int = 20240601
    max_patients: int | None = None
    unequal_sizes: bool = True
    size_concentration: float = 2.0
    min_site_size: int = 30
    case_mix: bool = True
    case_mix_strength: float = 0.6
    panels: bool = True
    panel_min_fraction: float = 0.5
    core_genes: tuple[str, ...] = field(default=CORE_GENES)

    @classmethod
    def from_config(cls, cfg: dict) -> "SimulationSettings":
        """Build from the ``simulation`` block of a disease in config.yaml."""
        sizes, mix, panels = cfg.get("sizes", {}), cfg.get("case_mix", {}), cfg.get("panels", {})
        return cls(
            seed=int(cfg.get("seed", cls.seed)),
            max_patients=cfg.get("max_patients"),
            unequal_sizes=bool(sizes.get("unequal", True)),
            size_concentration=float(sizes.get("concentration", cls.size_concentration)),
            min_site_size=int(sizes.get("min_site_size", cls.min_site_size)),
            case_mix=bool(mix.get("enabled", True)),
            case_mix_strength=float(mix.get("strength", cls.case_mix_strength)),
            panels=bool(panels.get("enabled", True)),
            panel_min_fraction=float(panels.get("min_fraction", cls.panel_min_fraction)),
            core_genes=tuple(panels.get("core_genes", CORE_GENES)),
        )


@dataclass
class SimulatedSite:
    """One simulated site: its patients and variants (harmonised) and how it was drawn."""

    site_id: str
    cohort: Cohort
    panel: list[str]
    age_tilt: float
    risk_tilt: float


def risk_proxy(patients: pd.DataFrame) -> np.ndarray:
    """A crude standardised risk from raw values (higher = worse); missing counts as average."""

    def z(x: pd.Series) -> np.ndarray:
        x = x.astype(float)
        sd = x.std()
        return ((x - x.mean()) / (sd if sd > 0 else 1.0)).fillna(0.0).to_numpy()

    cyto = patients["cyto_ipssr"].map({c: i for i, c in enumerate(CYTO_IPSSR_CATEGORIES)})
    return z(patients["bm_blast_pct"]) + z(cyto) - z(patients["hb_g_dl"]) - z(np.log1p(patients["plt_1e9_l"]))


def simulate_sites(cohort: Cohort, site_ids: list[str], settings: SimulationSettings) -> list[SimulatedSite]:
    """Split ``cohort`` into one :class:`SimulatedSite` per id in ``site_ids``."""
    if len(set(site_ids)) != len(site_ids) or not site_ids:
        raise ValueError(f"site ids must be unique and non-empty: {site_ids}")
    rng = np.random.default_rng(settings.seed)
    patients = cohort.patients
    if settings.max_patients is not None and settings.max_patients < len(patients):
        keep = np.sort(rng.choice(len(patients), size=settings.max_patients, replace=False))
        patients = patients.iloc[keep].reset_index(drop=True)
    k = len(site_ids)
    sizes = site_sizes(len(patients), k, minimum=settings.min_site_size, concentration=settings.size_concentration,
                       rng=rng, unequal=settings.unequal_sizes)  # fmt: skip
    strength = settings.case_mix_strength if settings.case_mix else 0.0
    age_tilts = rng.normal(0.0, strength, k) if strength > 0 else np.zeros(k)
    risk_tilts = rng.normal(0.0, strength, k) if strength > 0 else np.zeros(k)
    age = patients["age"].astype(float)
    z_age = ((age - age.mean()) / age.std()).fillna(0.0).to_numpy()
    z_risk = risk_proxy(patients)
    z_risk = z_risk / (z_risk.std() or 1.0)

    remaining = np.arange(len(patients))
    assignment: dict[int, np.ndarray] = {}
    for k_index in rng.permutation(k):
        size = sizes[k_index]
        if size >= len(remaining):
            chosen = remaining
        else:
            logits = age_tilts[k_index] * z_age[remaining] + risk_tilts[k_index] * z_risk[remaining]
            weights = np.exp(logits - logits.max())
            chosen = np.sort(rng.choice(remaining, size=size, replace=False, p=weights / weights.sum()))
        assignment[k_index] = chosen
        remaining = np.setdiff1d(remaining, chosen, assume_unique=True)

    optional = [g for g in PANEL_GENES if g not in settings.core_genes]
    sites = []
    for k_index, site_id in enumerate(site_ids):
        if settings.panels:
            fraction = rng.uniform(settings.panel_min_fraction, 1.0)
            covered = set(settings.core_genes) | {g for g in optional if rng.random() < fraction}
            panel = [g for g in PANEL_GENES if g in covered]
        else:
            panel = list(PANEL_GENES)
        site_patients = patients.iloc[assignment[k_index]].reset_index(drop=True).copy()
        for gene in PANEL_GENES:
            if gene not in panel:
                site_patients[gene_column(gene)] = np.nan
        ids = set(site_patients["patient_id"])
        variants = cohort.variants
        variants = variants[variants["patient_id"].isin(ids) & variants["gene"].isin(panel)].reset_index(drop=True)
        sites.append(
            SimulatedSite(site_id, Cohort(site_patients, variants), panel, float(age_tilts[k_index]), float(risk_tilts[k_index]))
        )
    return sites


def _write_delimited(path: str | Path, frame: pd.DataFrame, dialect: Dialect) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding=dialect.encoding, newline="") as handle:
            writer = csv.writer(handle, delimiter=dialect.delimiter, lineterminator="\n")
            writer.writerow(frame.columns)
            writer.writerows(frame.itertuples(index=False, name=None))


def write_site_export(site: SimulatedSite, dialect: Dialect, patients_path: str | Path, variants_path: str | Path) -> None:
    """Write a simulated site's patient and variant tables as the site would hand them over.

    Genes off the site's panel are left out of the export (the site has no such column).
    """
    derived = {v.name for v in DERIVED_VARIABLES}
    off_panel = {gene_column(g) for g in PANEL_GENES if g not in site.panel}
    columns = [c for c in site.cohort.patients.columns if c not in derived and c not in off_panel]
    patients = export_frame(site.cohort.patients[columns], dialect.patients, VARIABLES_BY_NAME, dialect)
    variants = export_frame(site.cohort.variants, dialect.variants, VARIANT_VARIABLES_BY_NAME, dialect)
    _write_delimited(patients_path, patients, dialect)
    _write_delimited(variants_path, variants, dialect)


def site_summary(site: SimulatedSite, dialect_name: str) -> dict:
    """Site-level facts of the simulation (no patient-level values)."""
    return {
        "site_id": site.site_id,
        "dialect": dialect_name,
        "n_patients": int(len(site.cohort.patients)),
        "n_variants": int(len(site.cohort.variants)),
        "panel_size": len(site.panel),
        "panel": site.panel,
        "age_tilt": round(site.age_tilt, 4),
        "risk_tilt": round(site.risk_tilt, 4),
    }
