"""``fedheme hsct``: for a clinician's own patients, the expected RMST with and without
allogeneic transplant under a transplant model bundle.

The patient file is checked like a ``fedheme score ipssm`` input (every problem named by
file, line and column; nothing written unless all is valid), with ``age`` also required.
Each patient's features are built with the bundle's pooled statistics, the IPSS-M score
(mean scenario) and age give the effect modifiers, and every run of the chosen model (one
per seed: each its own DP noise) predicts survival under each policy. The output gives the
mean over runs and, as ``low``/``high``, the smallest and largest run: the spread due to
seeds and DP noise, not a confidence interval for the sampling of the training patients
(the study's table, ``hsct_rmst.tsv``, carries bootstrap intervals at held-out sites).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from fedheme.io import write_tsv

STATEMENT = ("Observational evidence from registry-like data, not a randomised trial: who was selected for transplant "
             "(fitness, donor, comorbidity) is only partly adjusted for. Use beside clinical judgement, not instead of it.")  # fmt: skip


def hsct_table(frame: pd.DataFrame, bundle: dict, *, strategy: str = "fedavg", epsilon: str | None = None) -> pd.DataFrame:
    """One row per patient: IPSS-M, then per restriction time the mean RMST over the runs
    under each policy and the gain against no transplant with its run range."""
    from fedheme.federated.config import DesignSettings
    from fedheme.federated.design import feature_matrix
    from fedheme.models.bundle import bundle_model, choose_runs
    from fedheme.scores.mds import ipssm
    from fedheme.treatment.cohort import modifier_matrix
    from fedheme.treatment.decision import NEVER, policy_rmst
    from fedheme.treatment.evaluation import coding_of

    coding = coding_of(bundle)
    chosen, runs = choose_runs(bundle, strategy, epsilon)
    scores = ipssm(frame)
    rows = frame.assign(ipssm_score=scores["ipssm_score"])
    settings = DesignSettings.from_config(bundle["design"], bundle["design"])
    modifiers = modifier_matrix(rows, coding.modifiers)
    known = ~np.isnan(modifiers).any(axis=1)
    taus = [t for t in (8.0, 5.0) if t <= coding.horizon] or [coding.horizon]
    delay = bundle.get("treatment", {}).get("delay_years")
    per_run = []
    for run in runs:
        x = feature_matrix(rows, settings, bundle["stats"][run["mode"]])
        with torch.no_grad():
            per_run.append(policy_rmst(bundle_model(bundle, run), x[known], modifiers[known], coding, taus=taus, delay_years=delay))
    out = pd.DataFrame({"patient_id": frame["patient_id"].to_numpy(), "ipssm_score": scores["ipssm_score"].round(3).to_numpy(),
                        "ipssm_category": scores["ipssm_category"].to_numpy(), "model": f"{strategy}, epsilon {chosen}",
                        "runs": len(runs)})  # fmt: skip
    for (policy, tau) in sorted(per_run[0], key=lambda k: (-k[1], k[0] != NEVER, k[0])):
        stack = np.vstack([r[(policy, tau)] for r in per_run])
        _fill(out, known, f"rmst_{tau:g}y_{policy}", stack.mean(axis=0))
        if policy != NEVER:
            gain = stack - np.vstack([r[(NEVER, tau)] for r in per_run])
            _fill(out, known, f"rmst_gain_{tau:g}y_{policy}", gain.mean(axis=0))
            _fill(out, known, f"rmst_gain_{tau:g}y_{policy}_low", gain.min(axis=0))
            _fill(out, known, f"rmst_gain_{tau:g}y_{policy}_high", gain.max(axis=0))
    out["note"] = np.where(known, "", "no IPSS-M score: RMST not computed")
    return out


def _fill(out: pd.DataFrame, known: np.ndarray, column: str, values: np.ndarray) -> None:
    full = np.full(len(out), math.nan)
    full[known] = np.round(values, 3)
    out[column] = full


def hsct_file(input_path: str | Path, model_path: str | Path, output_path: str | Path, *, strategy: str = "fedavg",
              epsilon: str | None = None, max_errors: int = 50) -> pd.DataFrame:  # fmt: skip
    """Check the patient file, predict, and write the TSV (nothing written on an error).

    Raises:
        fedheme.data.issues.ExportValidationError: the file's problems, by line and column.
        ValueError: a bundle without a transplant model, or without the chosen model.
    """
    from fedheme.models.bundle import read_bundle
    from fedheme.scores.inputs import read_score_input

    frame = read_score_input(input_path, "ipssm", max_errors, require=("age",))
    bundle = read_bundle(model_path)
    if "treatment" not in bundle or "design" not in bundle:
        raise ValueError(f"{model_path}: not a transplant model bundle (results/<disease>/training/hsct/<fold>/models.pt)")
    table = hsct_table(frame.reset_index(drop=True), bundle, strategy=strategy, epsilon=epsilon)
    write_tsv(output_path, table)
    return table
