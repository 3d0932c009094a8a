"""Training inputs: what a site releases before training, and its design matrix.

Before training, each site releases two sets of aggregates of its training patients:

1. numeric aggregates: the patient count and, per numeric feature, over values clipped to
   public, data-independent bounds and scaled to [-1, 1], the count, sum and sum of
   squares (L2 sensitivity of one patient: sqrt(1 + 3 p_numeric));
2. binary aggregates: per binary feature the count observed and the count of ones, whose
   pooled ratio imputes missing values such as unsequenced genes (sqrt(2 p_binary));
3. per endpoint, event counts on a fine grid of follow-up time (0.25 years), from which
   the pooled time bins of the logistic-hazard model are fitted (sqrt(n_endpoints)).

With a privacy budget each is released with Gaussian noise of its sensitivity times its
noise multiplier, and all three enter the site's accountant (:mod:`fedheme.privacy`).
With epsilon = inf they are released exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from fedheme.features import FeatureSpec, model_features
from fedheme.privacy import Mechanism, gaussian_release
from fedheme.schema import SURVIVAL_ENDPOINTS
from fedheme.timebins import bin_edges_from_histogram, discretise, event_histogram


@dataclass(frozen=True)
class DesignSettings:
    """How features are bounded and time is binned (the ``training`` block of config).

    Attributes:
        spec: the model features.
        bounds: numeric feature -> (low, high) in the feature's (transformed) scale: public
            clinical limits, fixed before seeing data; values are clipped to them.
        endpoints: endpoints released and trained.
        horizon: follow-up horizon in years; later follow-up is censored there.
        n_bins: number of time bins K of survival endpoints (a binary endpoint has one:
            the logistic-hazard model is then logistic regression).
        outcomes: endpoint -> (time column or None for a binary endpoint, event column);
            the MDS endpoints by default.
    """

    spec: FeatureSpec
    bounds: dict[str, tuple[float, float]]
    endpoints: tuple[str, ...]
    horizon: float
    n_bins: int
    outcomes: dict[str, tuple[str | None, str]] = field(default_factory=lambda: dict(SURVIVAL_ENDPOINTS))

    def is_binary(self, endpoint: str) -> bool:
        return self.outcomes[endpoint][0] is None

    @property
    def survival_endpoints(self) -> tuple[str, ...]:
        return tuple(e for e in self.endpoints if not self.is_binary(e))

    def bins(self, endpoint: str) -> int:
        return 1 if self.is_binary(endpoint) else self.n_bins

    def __post_init__(self) -> None:
        missing = [f for f in self.spec.numeric if f not in self.bounds]
        if missing:
            raise ValueError(f"training.feature_bounds has no bounds for numeric features {missing}")

    @property
    def numeric_sensitivity(self) -> float:
        """L2 sensitivity of (n, and per numeric feature count, sum, sum of squares)."""
        return math.sqrt(1 + 3 * len(self.spec.numeric))

    @property
    def binary_sensitivity(self) -> float:
        """L2 sensitivity of (per binary feature count observed, count of ones)."""
        return math.sqrt(2 * len(self.spec.binary))

    @property
    def histogram_sensitivity(self) -> float:
        return math.sqrt(len(self.survival_endpoints))


def scaled_numeric(patients: pd.DataFrame, settings: DesignSettings) -> pd.DataFrame:
    """Numeric features clipped to their bounds and mapped to [-1, 1] (NaN stays NaN)."""
    raw = model_features(patients, settings.spec)
    out = {}
    for name in settings.spec.numeric:
        low, high = settings.bounds[name]
        centre, half = (low + high) / 2, (high - low) / 2
        out[name] = (raw[name].clip(low, high) - centre) / half
    return pd.DataFrame(out, index=patients.index)


def training_release(
    patients: pd.DataFrame,
    settings: DesignSettings,
    site_id: str,
    noise_multipliers: dict[str, float],
    rng: np.random.Generator,
) -> dict:
    """The aggregates one site releases before training (noisy when multipliers > 0).

    Args:
        patients: the site's training patients (harmonised rows).
        noise_multipliers: ``numeric``, ``binary`` and ``histogram`` noise multipliers
            (noise sd / L2 sensitivity); 0 releases exact values.
        rng: the site's noise source.

    Returns:
        JSON-ready dict with the released values and the ``mechanisms`` to account for.
    """
    numeric = scaled_numeric(patients, settings)
    binary = model_features(patients, settings.spec)[list(settings.spec.binary)]
    numeric_values = [float(len(patients))]
    for name in settings.spec.numeric:
        x = numeric[name].dropna()
        numeric_values += [float(len(x)), float(x.sum()), float((x**2).sum())]
    binary_values = []
    for name in settings.spec.binary:
        x = binary[name].dropna()
        binary_values += [float(len(x)), float(x.sum())]
    histograms = []
    for endpoint in settings.survival_endpoints:
        time_col, event_col = settings.outcomes[endpoint]
        known = patients[time_col].notna() & patients[event_col].notna()
        histograms.append(event_histogram(patients.loc[known, time_col].to_numpy(), patients.loc[known, event_col].to_numpy(), settings.horizon))
    parts = {
        "numeric": (np.array(numeric_values), settings.numeric_sensitivity),
        "binary": (np.array(binary_values), settings.binary_sensitivity),
    }
    if histograms:  # a binary endpoint has no time axis to release
        parts["histogram"] = (np.concatenate(histograms), settings.histogram_sensitivity)
    released, mechanisms = {}, []
    for part, (values, sensitivity) in parts.items():
        sigma = float(noise_multipliers[part])
        released[part] = gaussian_release(values, sensitivity, sigma, rng).tolist()
        mechanisms.append(Mechanism(f"gaussian-{part}-aggregates", sigma, 1.0, 1 if sigma > 0 else 0).__dict__)
    cells = len(histograms[0]) if histograms else 0
    return {
        "site_id": site_id,
        "numeric": released["numeric"],
        "binary": released["binary"],
        "histograms": {e: released["histogram"][i * cells : (i + 1) * cells] for i, e in enumerate(settings.survival_endpoints)},
        "mechanisms": mechanisms,
        "l2_sensitivity": {part: sensitivity for part, (_, sensitivity) in parts.items()},
    }


def combine_releases(releases: list[dict], settings: DesignSettings) -> dict:
    """Pool released aggregates: feature means and sds (in scaled units), binary prevalences,
    the bin edges of each endpoint and each site's (released) patient count."""
    numeric = np.array([r["numeric"] for r in releases]).sum(axis=0)
    binary = np.array([r["binary"] for r in releases]).reshape(len(releases), -1).sum(axis=0)
    features: dict[str, dict] = {}
    for i, name in enumerate(settings.spec.numeric):
        n, s, ss = numeric[1 + 3 * i : 4 + 3 * i]
        n = max(n, 2.0)
        mean = float(np.clip(s / n, -1, 1))
        # scaled values lie in [-1, 1]: their sd is at most 1; a noisy release can say less
        # than nothing, so the sd is kept within [0.05, 1]
        sd = float(np.clip(math.sqrt(max(ss / n - mean**2, 0.0)), 0.05, 1.0))
        features[name] = {"kind": "numeric", "mean": mean, "sd": sd}
    for i, name in enumerate(settings.spec.binary):
        n, ones = binary[2 * i : 2 * i + 2]
        features[name] = {"kind": "binary", "mean": float(np.clip(ones / n, 0.0, 1.0)) if n > 0 else 0.0}
    edges = {}
    for endpoint in settings.survival_endpoints:
        pooled = np.sum([r["histograms"][endpoint] for r in releases], axis=0)
        edges[endpoint] = bin_edges_from_histogram(pooled, settings.n_bins, settings.horizon).tolist()
    return {
        "sites": [r["site_id"] for r in releases],
        "site_n": {r["site_id"]: max(float(r["numeric"][0]), 1.0) for r in releases},
        "features": features,
        "bin_edges": edges,
        "horizon": settings.horizon,
    }


@dataclass
class DesignMatrix:
    """One site's training inputs for one endpoint (patients with a known outcome only).

    Attributes:
        x: features, shape (n, p), float32: numeric standardised, binary 0/1, missing
            imputed with the pooled mean.
        bin_index, event: discretised outcome (censored at the horizon), shape (n,).
        time, status: follow-up in years and event indicator as observed (for
            evaluation), shape (n,).
        patient_id: shape (n,).
    """

    x: np.ndarray
    bin_index: np.ndarray
    event: np.ndarray
    time: np.ndarray
    status: np.ndarray
    patient_id: np.ndarray


def design_matrix(patients: pd.DataFrame, settings: DesignSettings, stats: dict, endpoint: str) -> DesignMatrix:
    """Standardise and impute a site's features with pooled statistics; discretise its outcome
    (a binary outcome is one bin: ``event`` is the outcome, ``time`` is 0)."""
    time_col, event_col = settings.outcomes[endpoint]
    known = patients[event_col].notna() if time_col is None else patients[time_col].notna() & patients[event_col].notna()
    patients = patients[known]
    numeric = scaled_numeric(patients, settings)
    binary = model_features(patients, settings.spec)[list(settings.spec.binary)]
    columns = []
    for name in settings.spec.numeric:
        f = stats["features"][name]
        columns.append(((numeric[name] - f["mean"]) / f["sd"]).fillna(0.0).to_numpy())
    for name in settings.spec.binary:
        columns.append(binary[name].fillna(stats["features"][name]["mean"]).to_numpy())
    x = np.column_stack(columns).astype(np.float32) if columns else np.zeros((len(patients), 0), np.float32)
    status = patients[event_col].to_numpy(dtype=float)
    if time_col is None:
        time = np.zeros(len(patients))
        bin_index, event = np.zeros(len(patients), np.int64), status.astype(np.float32)
    else:
        time = patients[time_col].to_numpy(dtype=float)
        bin_index, event = discretise(time, status, np.asarray(stats["bin_edges"][endpoint]), stats["horizon"])
    return DesignMatrix(x, bin_index, event, time, status, patients["patient_id"].to_numpy())
