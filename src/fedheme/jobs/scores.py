"""Jobs of ``workflow/rules/scores.smk``: clinical scores of one site's patients, inside the
site (patient-level: written to its ``private/`` folder)."""

from __future__ import annotations

import pandas as pd

from fedheme.io import write_parquet


def site_scores_job(*, patients, baselines: list[str], out) -> None:
    """Every baseline score of one site's patients, with the true model of simulated data."""
    from fedheme.scores import SCORES

    rows = pd.read_parquet(patients)
    parts = [rows[["patient_id", "split"]]] + [SCORES[name](rows) for name in baselines]
    parts.append(rows.filter(regex="^oracle_"))  # simulated data: the true model's predictions
    write_parquet(out, pd.concat(parts, axis=1))
