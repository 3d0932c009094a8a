"""Ingestion of one site's export, run inside that site's job.

Reads and validates the export (:mod:`fedheme.data.iwgpm.validation`), assigns the within-site
train/test split, and writes the harmonised patient and variant tables plus the QC report,
all into the site's private folder. Nothing is written unless the whole export is valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fedheme.data.iwgpm.dialects import load_dialect
from fedheme.data.iwgpm.qc import flagged_values, qc_markdown, qc_summary
from fedheme.data.iwgpm.validation import read_site_export
from fedheme.data.splits import SPLITS, within_site_split
from fedheme.privacy.randomness import site_randomness
from fedheme.io import write_json, write_parquet, write_text, write_tsv


@dataclass(frozen=True)
class IngestOutputs:
    """Where one site's ingestion writes (all inside the site's private folder)."""

    patients: Path
    variants: Path
    qc_json: Path
    qc_markdown: Path
    qc_flags: Path


def ingest_site(
    *,
    site_id: str,
    patients_path: str | Path,
    variants_path: str | Path | None,
    dialect_name: str,
    outputs: IngestOutputs,
    stratify_on: str = "os_status",
    test_fraction: float = 0.3,
    seed: int = 1,
    max_errors: int = 50,
    randomness: str = "site_key",
) -> dict:
    """Validate, harmonise and QC one site's export; return the QC summary. The split is
    drawn from the site's secret key (``randomness``: ``site_key`` or ``os``) and ``seed``.

    Raises:
        fedheme.data.issues.ExportValidationError: the export is invalid (nothing written).
    """
    dialect = load_dialect(dialect_name)
    export = read_site_export(patients_path, dialect, variants_path, max_errors=max_errors)
    patients = export.patients.copy()
    patients["split"] = within_site_split(patients[stratify_on], test_fraction, site_randomness(Path(outputs.patients).parent, randomness, "split", seed).numpy())
    files = [str(patients_path)] + ([str(variants_path)] if variants_path else [])
    summary = qc_summary(export, site_id, dialect.name, files)
    summary["split"] = {s: int((patients["split"] == s).sum()) for s in SPLITS}
    write_parquet(outputs.patients, patients.reset_index())
    write_parquet(outputs.variants, export.variants.reset_index())
    write_tsv(outputs.qc_flags, flagged_values(export.patients))
    write_json(outputs.qc_json, summary)
    write_text(outputs.qc_markdown, qc_markdown(summary))
    return summary
