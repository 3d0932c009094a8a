"""A site's design matrix, inside the site: its features clipped to public bounds, scaled,
standardised and imputed with the pooled released statistics, and its outcome discretised
into the pooled time bins. (What a site releases first is :mod:`fedheme.federated.releases`;
how features and time are set up is :class:`fedheme.federated.config.DesignSettings`.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fedheme.data.features import model_features
from fedheme.federated.config import DesignSettings
from fedheme.models.timebins import discretise


def scaled_numeric(patients: pd.DataFrame, settings: DesignSettings) -> pd.DataFrame:
    """Numeric features clipped to their bounds and mapped to [-1, 1] (NaN stays NaN)."""
    raw = model_features(patients, settings.spec)
    out = {}
    for name in settings.spec.numeric:
        low, high = settings.bounds[name]
        centre, half = (low + high) / 2, (high - low) / 2
        out[name] = (raw[name].clip(low, high) - centre) / half
    return pd.DataFrame(out, index=patients.index)


@dataclass
class DesignMatrix:
    """One site's training inputs for one endpoint (patients with a known outcome only).

    Attributes:
        x: features, shape (n, p), float32: numeric standardised, binary 0/1, missing
            imputed with the pooled mean.
        bin_index, event: discretised outcome (censored at the horizon), shape (n,); for
            a categorical outcome the class (int64) and ones.
        time, status: follow-up in years and event indicator as observed (for
            evaluation), shape (n,); for a categorical outcome zeros and the class.
        patient_id: shape (n,).
        treatment: per-bin treatment coding, shape (n, K, D), float32, for a model with a
            time-dependent treatment (:mod:`fedheme.treatment.coding`); None otherwise.
    """

    x: np.ndarray
    bin_index: np.ndarray
    event: np.ndarray
    time: np.ndarray
    status: np.ndarray
    patient_id: np.ndarray
    treatment: np.ndarray | None = None

    def tensors(self) -> tuple[np.ndarray, ...]:
        """What a client trains on: (x, bin_index, event), and the treatment coding if any."""
        base = (self.x, self.bin_index, self.event)
        return base if self.treatment is None else base + (self.treatment,)


def feature_matrix(patients: pd.DataFrame, settings: DesignSettings, stats: dict) -> np.ndarray:
    """Features of each patient, shape (n, p), float32: numeric ones clipped, scaled and
    standardised with the pooled statistics, binary ones as 0/1; missing values imputed with
    the pooled mean."""
    numeric = scaled_numeric(patients, settings)
    binary = model_features(patients, settings.spec)[list(settings.spec.binary)]
    columns = []
    for name in settings.spec.numeric:
        f = stats["features"][name]
        columns.append(((numeric[name] - f["mean"]) / f["sd"]).fillna(0.0).to_numpy())
    for name in settings.spec.binary:
        columns.append(binary[name].fillna(stats["features"][name]["mean"]).to_numpy())
    return np.column_stack(columns).astype(np.float32) if columns else np.zeros((len(patients), 0), np.float32)


def design_matrix(patients: pd.DataFrame, settings: DesignSettings, stats: dict, endpoint: str) -> DesignMatrix:
    """Standardise and impute a site's features with pooled statistics; discretise its outcome
    (a binary outcome is one bin: ``event`` is the outcome, ``time`` is 0; a categorical
    one's class is in ``bin_index`` and ``status``, ``event`` is 1)."""
    time_col, event_col = settings.outcomes[endpoint]
    known = patients[event_col].notna() if time_col is None else patients[time_col].notna() & patients[event_col].notna()
    patients = patients[known]
    x = feature_matrix(patients, settings, stats)
    status = patients[event_col].to_numpy(dtype=float)
    if settings.is_categorical(endpoint):
        label = np.searchsorted(np.asarray(settings.categories[endpoint], float), status, side="right").astype(np.int64)
        return DesignMatrix(x, label, np.ones(len(label), np.float32), np.zeros(len(label)), label.astype(float),
                            patients["patient_id"].to_numpy())  # fmt: skip
    if time_col is None:
        time = np.zeros(len(patients))
        bin_index, event = np.zeros(len(patients), np.int64), status.astype(np.float32)
    else:
        time = patients[time_col].to_numpy(dtype=float)
        bin_index, event = discretise(time, status, np.asarray(stats["bin_edges"][endpoint]), stats["horizon"])
    return DesignMatrix(x, bin_index, event, time, status, patients["patient_id"].to_numpy())
