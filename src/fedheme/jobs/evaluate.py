"""Jobs of ``workflow/rules/evaluate.smk``: a fold's models and the clinical scores evaluated
at one test site (inside the site: predictions stay in its ``private/`` folder), and the
metrics table pooled over sites from what they released (across sites)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fedheme.io import read_run_table, write_parquet, write_text, write_tsv


def evaluate_site_job(*, models, patients, scores, disease_name: str, disease: dict, training: dict, evaluation: dict,
                      figures: dict, min_cell_count: int, site_id: str, randomness: str, out_metrics, out_calibration,
                      out_km, out_predictions) -> None:  # fmt: skip
    """Evaluate a fold's models and the clinical scores at one test site, inside the site."""
    from fedheme.evaluation.metrics import EvaluationSettings
    from fedheme.evaluation.site import evaluate_site
    from fedheme.evaluation.tables import declared_model
    from fedheme.federated.config import DesignSettings
    from fedheme.models.bundle import load_bundle
    from fedheme.privacy.randomness import site_randomness

    result = evaluate_site(
        bundle=load_bundle(models), patients=pd.read_parquet(patients), scores=pd.read_parquet(scores),
        baselines=disease["baselines"], design_settings=DesignSettings.from_config(disease, training),
        settings=EvaluationSettings.from_config(evaluation, min_cell_count), disease=disease_name, site_id=site_id,
        randomness=site_randomness(Path(patients).parent, randomness),
        declared=declared_model(figures["strategy"], [float(e) for e in training["epsilons"]], training["seeds"]),
        risk_thresholds=tuple(figures["risk_thresholds"]), km_step=float(figures["km_step_years"]),
    )  # fmt: skip
    write_tsv(out_km, result.life_tables)
    write_tsv(out_metrics, result.metrics)
    write_tsv(out_calibration, result.calibration)
    write_parquet(out_predictions, result.predictions)


def metrics_table_job(*, metrics: list, calibration: list, km: list, study, confidence: float,
                      out_metrics, out_summary, out_calibration, out_km) -> None:  # fmt: skip
    """Stack every test site's released metrics, pool them over sites, and write the summary."""
    from fedheme.evaluation.pooling import metrics_table
    from fedheme.report.summary import summary_markdown

    table = metrics_table([read_run_table(p) for p in metrics], confidence)
    write_tsv(out_metrics, table)
    write_text(out_summary, summary_markdown(table, confidence, pd.read_csv(study, sep="\t", keep_default_na=False, na_values=["NA"])))
    write_tsv(out_calibration, pd.concat([read_run_table(p) for p in calibration], ignore_index=True))
    write_tsv(out_km, pd.concat([read_run_table(p) for p in km], ignore_index=True))
