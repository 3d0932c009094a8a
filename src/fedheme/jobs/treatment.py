"""Jobs of ``workflow/rules/treatment.smk``, the transplant study of MDS: a site's count
table of transplanted patients by IPSS-M category (inside the site), a test site's
evaluation of a fold's transplant models (inside the site), and the cross-site tables and
figure (from released files only). Training is :func:`fedheme.jobs.train.train_fold_job`
with ``transplant`` set."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from fedheme.io import read_json, write_json, write_tsv


def transplant_release_job(*, patients, scores, site_id: str, noise_multiplier: float, min_cell_count: int, delta: float,
                           privacy: dict, out_release, out_ledger, disease: str = "mds") -> None:  # fmt: skip
    """Release the site's transplant table (inside the site) and its ledger row.

    Input is checked before anything is drawn, charged or written: a bad input writes
    nothing. In ``deployment`` mode an exact release is refused and the mechanism is
    charged to the site's study-wide accountant first (over budget: nothing is written).
    The ledger has one row (run ``transplant_release``, strategy ``release``); an exact
    release is listed with noise 0, no steps and epsilon inf (non-private).
    """
    from fedheme.privacy.budget import site_accountant
    from fedheme.privacy.ledger import RUN_LEDGER_COLUMNS, ledger_rows
    from fedheme.privacy.plan import Charge
    from fedheme.privacy.randomness import data_digest, site_randomness
    from fedheme.treatment.release import RELEASE, _joined, transplant_mechanism, transplant_release

    private_dir = Path(patients).parent
    patient_rows, score_rows = pd.read_parquet(patients), pd.read_parquet(scores)
    digest = data_digest(_joined(patient_rows, score_rows))  # what is released about: checked here
    mechanism = transplant_mechanism(noise_multiplier)
    accountant = site_accountant(private_dir, privacy=privacy, delta=delta, disease=disease, site=site_id)
    if accountant is not None:
        if mechanism.steps == 0:
            raise ValueError(f"{disease} site {site_id}: privacy.mode deployment releases nothing exact ({RELEASE})")
        accountant.charge([Charge(f"{disease}/{RELEASE}", mechanism)], data=digest)
    rng = site_randomness(private_dir, privacy.get("randomness", "site_key"), "transplant-release", f"sigma={float(noise_multiplier)!r}", digest).numpy()
    release = transplant_release(patient_rows, score_rows, site_id=site_id, noise_multiplier=noise_multiplier,
                                 min_cell_count=min_cell_count, rng=rng)  # fmt: skip
    run = {"run": "transplant_release", "strategy": "release", "target_epsilon": "", "seed": ""}
    note = "exact release (research mode)" if release["exact"] else "transplant count table by IPSS-M category"
    rows = ledger_rows(run, site_id, [mechanism], float(delta), note)
    if release["exact"]:
        rows = [{**r, "epsilon": math.inf} for r in rows]  # no steps, so no DP epsilon: non-private
    write_json(out_release, release)
    write_tsv(out_ledger, pd.DataFrame(rows, columns=RUN_LEDGER_COLUMNS))


def evaluate_transplant_site_job(*, models, patients, scores, disease_name: str, disease: dict, training: dict, evaluation: dict,
                                 privacy: dict, transplant: dict, site_id: str, out_validation, out_rmst) -> None:  # fmt: skip
    """A test site evaluates a fold's transplant models on its own patients
    (:mod:`fedheme.treatment.evaluation`; research mode: exact estimates and intervals)."""
    from fedheme.federated.config import DesignSettings
    from fedheme.models.bundle import load_bundle
    from fedheme.privacy.randomness import data_digest, site_randomness
    from fedheme.treatment.evaluation import evaluate_transplant_site

    rows = pd.read_parquet(patients)
    randomness = site_randomness(Path(patients).parent, privacy.get("randomness", "site_key"), data_digest(rows))
    validation, rmst = evaluate_transplant_site(
        load_bundle(models), rows, pd.read_parquet(scores), disease=disease_name, site_id=site_id,
        settings=DesignSettings.from_config(disease, training), randomness=randomness.child("transplant", Path(models).parent.name),
        taus=[float(t) for t in transplant["rmst_years"]], delay_years=transplant.get("delay_years"),
        n_bootstrap=int(evaluation["n_bootstrap"]), confidence=float(evaluation["confidence"]),
        min_cell_count=int(privacy["min_cell_count"]),
    )  # fmt: skip
    write_tsv(out_validation, validation)
    write_tsv(out_rmst, rmst)


def transplant_tables_job(*, validation: list, rmst: list, releases: list, models, transplant: dict, confidence: float,
                          out_validation, out_rmst, out_effects, out_counts, out_png, out_pdf) -> None:  # fmt: skip
    """The study's transplant tables and figure, across sites from released files only:
    validation and RMST rows pooled over test sites and summarised over seeds, the
    transplant terms of the models trained on every site, and the transplant counts."""
    from fedheme.io import read_run_table
    from fedheme.models.bundle import load_bundle
    from fedheme.report.treatment import plot_rmst_gain
    from fedheme.treatment.decision import policies
    from fedheme.treatment.pooling import effect_table, over_seeds, pool_transplant_metrics, pool_transplant_releases

    checked = pool_transplant_metrics([read_run_table(p) for p in validation], confidence)
    write_tsv(out_validation, checked)
    summary = over_seeds(pool_transplant_metrics([read_run_table(p) for p in rmst], confidence), confidence)
    write_tsv(out_rmst, summary)
    write_tsv(out_effects, effect_table(load_bundle(models)))
    counts = pool_transplant_releases([read_json(p) for p in releases])
    write_tsv(out_counts, counts)
    categories = [c for c in counts["category"] if c in set(summary["category"])]
    shown = [p for p in policies(transplant.get("delay_years")) if p != "never"]
    plot_rmst_gain(summary, tau=max(float(t) for t in transplant["rmst_years"]), policies=shown, categories=categories,
                   png=out_png, pdf=out_pdf)  # fmt: skip
