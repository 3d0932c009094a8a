"""Jobs of ``workflow/rules/diagnosis.smk``: each MDS site classifies its patients by WHO 2022
and ICC 2022 (inside the site: labels stay in its ``private/`` folder, a suppressed
cross-tabulation is released), and the reclassification table and figure across sites
(from the released cross-tabulations only); each test site evaluates the marrow-blast
classifier's folds on its own patients, and its tables and figure follow across sites.
(The classifier's releases and training are the jobs of :mod:`fedheme.jobs.train`.)"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fedheme.io import read_json, read_run_table, write_json, write_parquet, write_tsv


def site_classification_job(*, patients, variants, site_id: str, min_cell_count: int, out_labels, out_release) -> None:
    """WHO 2022 and ICC 2022 labels with their reasons for every patient of the site, and its
    cross-tabulation with WHO 2016 (small cells suppressed; :mod:`fedheme.diagnosis.release`)."""
    from fedheme.diagnosis.classification import icc2022, who2022, with_sf3b1_vaf
    from fedheme.diagnosis.release import crosstab_release

    rows = with_sf3b1_vaf(pd.read_parquet(patients), pd.read_parquet(variants))
    labels = pd.concat([rows[["patient_id", "who_2016"]], who2022(rows), icc2022(rows)], axis=1)
    release = crosstab_release(labels, site_id=site_id, min_cell_count=min_cell_count)
    write_parquet(out_labels, labels)
    write_json(out_release, release)


def reclassification_table_job(*, releases: list, out_table, out_png, out_pdf) -> None:
    """The sites' cross-tabulations pooled, and the WHO 2016 -> 2022 -> ICC figure."""
    from fedheme.diagnosis.pooling import pool_crosstabs
    from fedheme.report.diagnosis import plot_reclassification

    table = pool_crosstabs([read_json(p) for p in releases])
    write_tsv(out_table, table)
    plot_reclassification(table, out_png, out_pdf)


def evaluate_marrow_site_job(*, models: dict, patients, disease_name: str, diagnosis: dict, training: dict, evaluation: dict,
                             figures: dict, privacy: dict, site_id: str, out_metrics, out_calibration, out_predictions) -> None:  # fmt: skip
    """A test site evaluates every fold of the marrow-blast classifier it is a test site of
    (``models``: fold -> bundle; its own fold ``loso-<site>`` and ``within``) on its own
    patients (:mod:`fedheme.diagnosis.marrow_evaluation`; research mode: exact estimates and
    intervals, listed in the study budget as a non-private release)."""
    from fedheme.diagnosis.marrow import design_settings
    from fedheme.diagnosis.marrow_evaluation import evaluate_marrow_site
    from fedheme.evaluation.metrics import EvaluationSettings
    from fedheme.evaluation.tables import declared_model
    from fedheme.models.bundle import load_bundle
    from fedheme.privacy.randomness import data_digest, site_randomness

    rows = pd.read_parquet(patients)
    randomness = site_randomness(Path(patients).parent, privacy.get("randomness", "site_key"), data_digest(rows))
    declared = declared_model(figures["strategy"], [float(e) for e in training["epsilons"]], training["seeds"])
    settings = EvaluationSettings.from_config(evaluation, privacy["min_cell_count"])
    if not models:
        raise ValueError(f"site {site_id} tests no fold of the marrow-blast classifier")
    features = design_settings(diagnosis, training)
    metrics, calibration, predictions = [], [], []
    for fold, path in sorted(models.items()):
        m, c, p = evaluate_marrow_site(load_bundle(path), rows, design_settings=features, settings=settings,
                                       disease=disease_name, site_id=site_id, randomness=randomness, declared=declared)  # fmt: skip
        metrics.append(m), calibration.append(c), predictions.append(p.assign(fold=fold))
    write_tsv(out_metrics, pd.concat(metrics, ignore_index=True))
    write_tsv(out_calibration, pd.concat(calibration, ignore_index=True))
    write_parquet(out_predictions, pd.concat(predictions, ignore_index=True))


def marrow_tables_job(*, metrics: list, calibration: list, cuts: list, confidence: float, out_metrics, out_summary, out_calibration,
                      out_png, out_pdf) -> None:  # fmt: skip
    """The classifier's metrics pooled over test sites and summarised over seeds, the
    declared model's calibration groups of every test site, and the figure (released files
    only)."""
    from fedheme.diagnosis.marrow_pooling import marrow_metrics, marrow_summary, stacked_calibration
    from fedheme.report.diagnosis import plot_marrow_blasts

    table = marrow_metrics([read_run_table(p) for p in metrics], confidence)
    summary = marrow_summary(table, confidence)
    write_tsv(out_metrics, table)
    write_tsv(out_summary, summary)
    write_tsv(out_calibration, stacked_calibration([read_run_table(p) for p in calibration]))
    plot_marrow_blasts(summary, cuts=[float(c) for c in cuts], png=out_png, pdf=out_pdf)
