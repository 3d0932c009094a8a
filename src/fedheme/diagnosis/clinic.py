"""``fedheme blasts``: for a clinician's own patients, the marrow blast category a biopsy
would likely show, from blood counts, peripheral blasts and a blood NGS panel, under a
marrow-blast classifier bundle (``results/mds/training/marrow_blasts/all/models.pt``: the
model trained on every site).

The patient file is checked like a ``fedheme score`` input (every problem named by file,
line and column; nothing written unless all is valid), with age, haemoglobin, platelets and
peripheral blasts required. A feature left empty (a gene not sequenced, no monocyte count)
is imputed with the pooled mean of the training sites, as in training, and named in the
row's note. Every run of the chosen model (one per seed, each its own DP noise) predicts the
class probabilities; the output gives their mean and, for P(>= the first cut point), the
smallest and largest run: the spread due to seeds and DP noise, not a confidence interval
(the study's ``marrow_blasts_summary.tsv`` has bootstrap intervals at held-out sites).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from fedheme.io import write_tsv

#: What the output says about itself.
STATEMENT = ("A prediction from blood, not a marrow examination: it can rank who most needs a biopsy, it does not replace one. "
             "Validated leave-one-site-out on the IWG-PM cohort (README 'Diagnosis without a marrow sample').")  # fmt: skip
#: Columns a patient file must have (the others of the model are imputed when absent).
REQUIRED = ("age", "hb_g_dl", "plt_1e9_l", "pb_blast_pct")


def blasts_table(frame: pd.DataFrame, bundle: dict, *, strategy: str = "fedavg", epsilon: str | None = None) -> pd.DataFrame:
    """One row per patient: the mean class probabilities over the runs, P(>= first cut) with
    its range over runs, the most probable category, and the features imputed."""
    from fedheme.data.features import model_features
    from fedheme.diagnosis.marrow import class_labels, design_settings
    from fedheme.federated.design import feature_matrix
    from fedheme.models.bundle import bundle_model, choose_runs

    from fedheme.standard.mds import HARMONISED_VARIABLES

    chosen, runs = choose_runs(bundle, strategy, epsilon)
    settings = design_settings(bundle["diagnosis"], {"horizon_years": 1.0, "n_bins": 1})
    # a column the file does not have (a gene it did not test) is missing for every patient
    frame = frame.assign(**{v.name: np.nan for v in HARMONISED_VARIABLES if v.name not in frame.columns})
    labels = class_labels(bundle["categories"])
    probabilities = []
    for run in runs:
        x = feature_matrix(frame, settings, bundle["stats"][run["mode"]])
        with torch.no_grad():
            probabilities.append(bundle_model(bundle, run).probabilities(torch.from_numpy(x)).numpy().astype(float))
    stack = np.stack(probabilities)  # (runs, n, C)
    mean = stack.mean(axis=0)
    high = 1.0 - stack[:, :, 0]
    out = pd.DataFrame({"patient_id": frame["patient_id"].to_numpy(), "model": f"{strategy}, epsilon {chosen}", "runs": len(runs)})
    for c, label in enumerate(labels):
        out[f"p_{label}"] = mean[:, c].round(3)
    cut = f"{float(bundle['categories'][0]):g}"
    out[f"p_ge{cut}"], out[f"p_ge{cut}_low"], out[f"p_ge{cut}_high"] = high.mean(axis=0).round(3), high.min(axis=0).round(3), high.max(axis=0).round(3)
    out["most_probable"] = [labels[i] for i in mean.argmax(axis=1)]
    imputed = model_features(frame, settings.spec).isna()
    out["note"] = ["" if not row.any() else "imputed (pooled mean): " + ", ".join(row.index[row]) for _, row in imputed.iterrows()]
    return out


def blasts_file(input_path: str | Path, model_path: str | Path, output_path: str | Path, *, strategy: str = "fedavg",
                epsilon: str | None = None, max_errors: int = 50) -> pd.DataFrame:  # fmt: skip
    """Check the patient file, predict, and write the TSV (nothing written on an error).

    Raises:
        fedheme.data.issues.ExportValidationError: the file's problems, by line and column.
        ValueError: a bundle that is not a marrow-blast classifier, or without the chosen model.
    """
    from fedheme.models.bundle import read_bundle
    from fedheme.scores.inputs import read_score_input

    frame = read_score_input(input_path, None, max_errors, require=REQUIRED)
    bundle = read_bundle(model_path)
    if bundle.get("task") != "softmax" or "diagnosis" not in bundle:
        raise ValueError(f"{model_path}: not a marrow-blast classifier bundle (results/<disease>/training/marrow_blasts/<fold>/models.pt)")
    table = blasts_table(frame.reset_index(drop=True), bundle, strategy=strategy, epsilon=epsilon)
    write_tsv(output_path, table)
    return table
