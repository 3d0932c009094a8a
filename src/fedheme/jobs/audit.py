"""Jobs of ``workflow/rules/audit.smk``: a site audits the privacy of the models trained on
its patients, inside the site (:mod:`fedheme.audit.site`; only the audit figures are
released), and the study's audit table and figure are stacked across sites from those
releases."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fedheme.io import read_run_table, write_tsv


def site_audit_job(*, models, patients, release, disease_name: str, disease: dict, training: dict, evaluation: dict, figures: dict,
                   privacy: dict, site_id: str, out_audit, out_roc, calibration_cache=None) -> None:  # fmt: skip
    """Membership inference against the ``within`` fold's federated and local models, and
    canary auditing of the DP trainer at every epsilon of the grid, at one site (research
    mode: the figures are a declared non-private release).

    Args:
        release: the site's own training releases of its training split (mode -> release),
            whose mechanisms the canary runs account as the pipeline's runs do.
    """
    import math

    from fedheme.audit.site import AuditSettings, canary_audit, membership_audit
    from fedheme.federated.config import DesignSettings, TrainConfig
    from fedheme.io import read_json
    from fedheme.models.bundle import load_bundle
    from fedheme.privacy.accounting import Mechanism, use_calibration_cache
    from fedheme.privacy.randomness import data_digest, site_randomness

    use_calibration_cache(calibration_cache)
    rows = pd.read_parquet(patients)
    randomness = site_randomness(Path(patients).parent, privacy.get("randomness", "site_key"), data_digest(rows)).child("audit")
    bundle = load_bundle(models)
    audit = AuditSettings.from_config(privacy["audit"], n_bootstrap=int(evaluation["n_bootstrap"]),
                                      confidence=float(evaluation["confidence"]), strategy=figures["strategy"],
                                      min_cell_count=int(privacy["min_cell_count"]))  # fmt: skip
    design_settings, base = DesignSettings.from_config(disease, training), TrainConfig.from_config(training)
    membership, roc = membership_audit(bundle, rows, design_settings=design_settings, base=base, audit=audit, site_id=site_id,
                                       disease=disease_name, randomness=randomness)  # fmt: skip
    canaries = canary_audit(bundle, rows, design_settings=design_settings, base=base, audit=audit,
                            epsilons=[float(e) for e in training["epsilons"]], delta=float(training["delta"]), site_id=site_id,
                            disease=disease_name, randomness=randomness,
                            releases={mode: [Mechanism(**m) for m in r["mechanisms"]] for mode, r in read_json(release).items()})  # fmt: skip
    table = pd.concat([membership, canaries], ignore_index=True)
    write_tsv(out_audit, table.round({c: 4 for c in ("value", "ci_low", "ci_high")}).replace({math.inf: "inf"}))
    write_tsv(out_roc, roc)


def audit_table_job(*, audits: list, rocs: list, out_audit, out_roc, out_png, out_pdf) -> None:
    """Every audited site's released audit rows and ROC points, stacked; the audit figure."""
    from fedheme.report.audit import plot_audit

    table = pd.concat([read_run_table(p) for p in audits], ignore_index=True)
    roc = pd.concat([read_run_table(p) for p in rocs], ignore_index=True)
    write_tsv(out_audit, table)
    write_tsv(out_roc, roc)
    plot_audit(table, roc, png=out_png, pdf=out_pdf)
