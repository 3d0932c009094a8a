"""Ingestion of one site's CSV of a tabular disease, run inside that site's job: check it
against the declared columns, keep its ``split`` column or draw one stratified by the
primary endpoint's event, and write the patients and the QC report into the site's private
folder. Nothing is written unless the whole file is valid."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fedheme.data.splits import within_site_split
from fedheme.privacy.randomness import site_randomness
from fedheme.data.tabular.qc import tabular_qc, tabular_qc_markdown
from fedheme.data.tabular.reading import read_tabular_site
from fedheme.io import write_json, write_parquet, write_text
from fedheme.standard.tabular import TabularSpec


def assign_split(patients: pd.DataFrame, spec: TabularSpec, primary: str, test_fraction: float, rng: np.random.Generator) -> pd.DataFrame:
    """Keep a provided ``split`` column, or draw one stratified by the primary endpoint's event."""
    if "split" in patients.columns:
        return patients
    out = patients.copy()
    out["split"] = within_site_split(out[spec.endpoint(primary).event], test_fraction, rng)
    return out


@dataclass(frozen=True)
class TabularIngestOutputs:
    """Where one site's ingestion writes (all inside the site's private folder)."""

    patients: Path
    qc_json: Path
    qc_markdown: Path


def ingest_tabular_site(*, site_id: str, path: str | Path, spec: TabularSpec, primary_endpoint: str, test_fraction: float,
                        seed: int, max_errors: int, outputs: TabularIngestOutputs, randomness: str = "site_key") -> dict:  # fmt: skip
    """Check, split and QC one site's CSV; return the QC summary. The split is drawn from
    the site's secret key (``randomness``: ``site_key`` or ``os``) and ``seed``.

    Raises:
        fedheme.data.issues.ExportValidationError: the file is invalid (nothing written).
    """
    patients = read_tabular_site(path, spec, max_errors)  # raises before any file is written
    rng = site_randomness(Path(outputs.patients).parent, randomness, "split", seed).numpy()
    patients = assign_split(patients, spec, primary_endpoint, test_fraction, rng)
    summary = tabular_qc(patients, spec, site_id, str(path))
    write_parquet(outputs.patients, patients)
    write_json(outputs.qc_json, summary)
    write_text(outputs.qc_markdown, tabular_qc_markdown(summary))
    return summary
