"""Jobs of ``workflow/rules/ingest.smk``: one site's export checked, harmonised, split and
QC'd inside the site (everything written to its ``private/`` folder)."""

from __future__ import annotations

import logging


def ingest_site_job(*, site_id: str, patients, variants, dialect: str, stratify_on: str, test_fraction: float, seed: int,
                    max_errors: int, randomness: str, out_patients, out_variants, out_qc_json, out_qc_md, out_qc_flags) -> None:  # fmt: skip
    """Validate and harmonise one MDS site's export (see :mod:`fedheme.data.iwgpm.ingest`)."""
    from fedheme.data.iwgpm.ingest import IngestOutputs, ingest_site

    summary = ingest_site(
        site_id=site_id, patients_path=patients, variants_path=variants, dialect_name=dialect,
        outputs=IngestOutputs(out_patients, out_variants, out_qc_json, out_qc_md, out_qc_flags),
        stratify_on=stratify_on, test_fraction=test_fraction, seed=seed, max_errors=max_errors, randomness=randomness,
    )  # fmt: skip
    logging.getLogger("fedheme").info("%s: %d patients harmonised", site_id, summary["n_patients"])


def ingest_tabular_site_job(*, site_id: str, patients, disease: dict, test_fraction: float, seed: int, max_errors: int, randomness: str,
                            out_patients, out_qc_json, out_qc_md) -> None:  # fmt: skip
    """Check one site's CSV against the disease's declared columns; split; QC report."""
    from fedheme.data.tabular.ingest import TabularIngestOutputs, ingest_tabular_site
    from fedheme.standard.tabular import TabularSpec

    ingest_tabular_site(
        site_id=site_id, path=patients, spec=TabularSpec.from_config(disease), primary_endpoint=disease["primary_endpoint"],
        test_fraction=test_fraction, seed=seed, max_errors=max_errors,
        outputs=TabularIngestOutputs(out_patients, out_qc_json, out_qc_md), randomness=randomness,
    )  # fmt: skip
