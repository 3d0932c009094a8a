"""Jobs of ``workflow/rules/evaluate.smk``: a fold's models and the clinical scores evaluated
at one test site (inside the site: predictions stay in its ``private/`` folder), and the
metrics table pooled over sites from what they released (across sites)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fedheme.io import read_run_table, write_parquet, write_text, write_tsv


def evaluate_site_job(*, models, patients, scores, disease_name: str, disease: dict, training: dict, evaluation: dict,
                      figures: dict, privacy: dict, site_id: str, endpoint: str, fold: str, out_metrics, out_calibration,
                      out_km, out_ledger, out_predictions) -> None:  # fmt: skip
    """Evaluate a fold's models and the clinical scores at one test site, inside the site.

    ``research`` mode: estimates and intervals of every model (an exact release, listed as
    such in the study budget; the ledger file is empty). ``deployment`` mode: noisy count
    tables of the declared model and each clinical score, charged to the site's study-wide
    accountant before anything is computed (over budget: the job stops and writes nothing)
    and listed in the ledger file.
    """
    from fedheme.evaluation.metrics import EvaluationSettings
    from fedheme.evaluation.site import SiteInputs, declared_run, evaluate_site, evaluate_site_deployment
    from fedheme.evaluation.tables import declared_model
    from fedheme.federated.config import DesignSettings
    from fedheme.models.bundle import load_bundle, model_digest
    from fedheme.privacy.budget import site_accountant
    from fedheme.privacy.ledger import RUN_LEDGER_COLUMNS, ledger_rows
    from fedheme.privacy.plan import EVALUATION_NOISE, EVALUATION_RISK_EDGES, Charge, evaluation_charges, evaluation_scores
    from fedheme.privacy.randomness import data_digest, site_randomness

    private_dir = Path(patients).parent
    declared = declared_model(figures["strategy"], [float(e) for e in training["epsilons"]], training["seeds"])
    patient_rows = pd.read_parquet(patients)
    digest = data_digest(patient_rows)
    site = SiteInputs(
        bundle=load_bundle(models), patients=patient_rows, scores=pd.read_parquet(scores),
        baselines=disease["baselines"], design_settings=DesignSettings.from_config(disease, training),
        settings=EvaluationSettings.from_config(evaluation, privacy["min_cell_count"]), disease=disease_name, site_id=site_id,
        randomness=site_randomness(private_dir, privacy.get("randomness", "site_key"), digest), declared=declared,
        risk_thresholds=tuple(figures["risk_thresholds"]), km_step=float(figures["km_step_years"]),
    )  # fmt: skip
    accountant = site_accountant(private_dir, privacy=privacy, delta=training["delta"], disease=disease_name, site=site_id)
    ledger = pd.DataFrame(columns=RUN_LEDGER_COLUMNS)
    if accountant is None:
        result = evaluate_site(site)
    else:
        noise = float(privacy.get("evaluation_noise", EVALUATION_NOISE))
        charges = evaluation_charges(disease_name, evaluation_scores(disease), endpoint=endpoint, fold=fold, noise_multiplier=noise)
        # the model's table is charged under the model's fingerprint: evaluated again with
        # another model (a retrained or replaced bundle), it is a new release and counts again
        model_id = model_digest(site.bundle, declared_run(site.bundle, declared))
        accountant.charge([Charge(f"{c.identity}@{model_id}", c.mechanism) if score == "model" else c
                           for c, score in zip(charges, evaluation_scores(disease))], data=digest)  # fmt: skip
        result, _ = evaluate_site_deployment(site, noise_multiplier=noise,
                                             risk_edges=list(privacy.get("evaluation_risk_edges", EVALUATION_RISK_EDGES)))  # fmt: skip
        rows = []
        for charge, score in zip(charges, evaluation_scores(disease)):
            run = {"run": f"evaluation_{score}_{fold}", "strategy": declared[0] if score == "model" else score,
                   "target_epsilon": declared[1] if score == "model" else "", "seed": declared[2] if score == "model" else ""}  # fmt: skip
            rows += ledger_rows(run, site_id, [charge.mechanism], float(training["delta"]), "evaluation count table")
        ledger = pd.DataFrame(rows, columns=RUN_LEDGER_COLUMNS)
    write_tsv(out_km, result.life_tables)
    write_tsv(out_metrics, result.metrics)
    write_tsv(out_calibration, result.calibration)
    write_tsv(out_ledger, ledger)
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
