"""Loading the bundled IWG-PM MDS cohort into the harmonised form.

The release (``resources/mds-iwgpm/``) has four tables: clinical (one row per patient),
mutation status (df_mut), copy-number / cytogenetic events (df_cna) and the curated
mutation list (maf). Their column names are those of the built-in ``iwgpm`` dialect, so
the mapping onto harmonised names is written once, in that dialect.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from fedheme.data.iwgpm.dialects import load_dialect
from fedheme.data.iwgpm.transplant import reconcile_release_dates
from fedheme.standard.mds import (
    DERIVED_VARIABLES,
    HARMONISED_VARIABLES,
    VARIANT_VARIABLES,
    Variable,
)

log = logging.getLogger(__name__)

IWGPM_FILES = ("df_clinical.tsv", "df_mut.tsv", "df_cna.tsv", "maf.tsv")


@dataclass
class Cohort:
    """A whole cohort in harmonised form (never written across sites).

    Attributes:
        patients: one row per patient, columns of ``HARMONISED_VARIABLES`` except the
            derived ones (computed at ingestion).
        variants: one row per mutation, columns of ``VARIANT_VARIABLES``.
        notes: what loading changed in the release, one line each.
    """

    patients: pd.DataFrame
    variants: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def _as_canonical(frame: pd.DataFrame, variables: tuple[Variable, ...], codes: dict) -> pd.DataFrame:
    out = {}
    for var in variables:
        if var.name not in frame.columns:
            continue
        col = frame[var.name]
        decode = {v: k for k, v in codes.get(var.name, {}).items()}
        if decode:
            col = col.map(lambda x: decode.get(x, x) if pd.notna(x) else x)
        if var.kind in ("id", "text", "category"):
            col = col.map(lambda x: str(x).strip() if pd.notna(x) else None).astype(object)
        else:
            col = pd.to_numeric(col).astype("float64")
        out[var.name] = col
    return pd.DataFrame(out)


def load_iwgpm(folder: str | Path) -> Cohort:
    """Load the IWG-PM release from ``folder`` (the four TSV files of its README)."""
    folder = Path(folder)
    missing = [f for f in IWGPM_FILES if not (folder / f).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder}: missing {missing} of the IWG-PM release")
    read = dict(sep="\t", dtype=str, keep_default_na=False, na_values=["NA", ""])
    clinical = pd.read_csv(folder / "df_clinical.tsv", **read)
    mutations = pd.read_csv(folder / "df_mut.tsv", **read)
    events = pd.read_csv(folder / "df_cna.tsv", **read)
    maf = pd.read_csv(folder / "maf.tsv", **read)
    wide = clinical.merge(mutations, on="ID", validate="one_to_one").merge(events, on="ID", validate="one_to_one")

    dialect = load_dialect("iwgpm")
    rename = {exported: canonical for canonical, exported in dialect.patients.columns.items()}
    wide = wide.rename(columns=rename)
    derived = {v.name for v in DERIVED_VARIABLES}
    patients = _as_canonical(wide, tuple(v for v in HARMONISED_VARIABLES if v.name not in derived), dialect.patients.codes)
    patients, notes = reconcile_release_dates(patients)
    if notes:  # counted, never listed: a job's log crosses sites, patient IDs must not
        log.info("%d transplant dates of the release contradict its records and are treated as unknown", len(notes))

    maf = maf.rename(columns={e: c for c, e in dialect.variants.columns.items()})
    variants = _as_canonical(maf, VARIANT_VARIABLES, {})
    return Cohort(patients.reset_index(drop=True), variants.reset_index(drop=True), notes)


def load_published_scores(folder: str | Path) -> pd.DataFrame:
    """Published IPSS-R, IPSS-R(age) and IPSS-M scores and categories, by harmonised patient_id."""
    columns = ["ID", "IPSSR", "IPSSR_SCORE", "IPSSRA", "IPSSRA_SCORE", "IPSSM", "IPSSM_SCORE"]
    table = pd.read_csv(Path(folder) / "df_clinical.tsv", sep="\t", usecols=columns)
    return table.rename(columns={"ID": "patient_id"})
