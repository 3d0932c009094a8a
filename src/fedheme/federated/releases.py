"""What a site releases before training, computed inside the site from its training patients.

1. numeric aggregates: the patient count and, per numeric feature, over values clipped to
   public, data-independent bounds and scaled to [-1, 1], the count, sum and sum of
   squares (L2 sensitivity of one patient: sqrt(1 + 3 p_numeric));
2. binary aggregates: per binary feature the count observed and the count of ones, whose
   pooled ratio imputes missing values such as unsequenced genes (sqrt(2 p_binary));
3. per endpoint, event counts on a fine grid of follow-up time (0.25 years), from which
   the pooled time bins of the logistic-hazard model are fitted (sqrt(n_endpoints)).

With a privacy budget each is released with Gaussian noise of its sensitivity times its
noise multiplier, and all three enter the site's accountant (:mod:`fedheme.privacy`).
With epsilon = inf they are released exactly. The server pools them
(:func:`fedheme.federated.server.combine_releases`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fedheme.data.features import model_features
from fedheme.federated.config import DesignSettings
from fedheme.federated.design import scaled_numeric
from fedheme.models.timebins import event_histogram
from fedheme.privacy.plan import release_mechanisms
from fedheme.privacy.mechanisms import gaussian_release


def training_release(
    patients: pd.DataFrame,
    settings: DesignSettings,
    site_id: str,
    noise_multipliers: dict[str, float],
    rng: np.random.Generator,
    release: str = "training_release",
) -> dict:
    """The aggregates one site releases before training (noisy when multipliers > 0).

    Args:
        patients: the site's training patients (harmonised rows).
        noise_multipliers: ``numeric``, ``binary`` and ``histogram`` noise multipliers
            (noise sd / L2 sensitivity); 0 releases exact values.
        rng: the site's noise source.
        release: the release's name in the site's privacy history.

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
    assert tuple(parts) == settings.release_parts
    released = {}
    for part, (values, sensitivity) in parts.items():
        released[part] = gaussian_release(values, sensitivity, float(noise_multipliers[part]), rng).tolist()
    mechanisms = [m.__dict__ for m in release_mechanisms(noise_multipliers, settings.release_parts, release)]
    cells = len(histograms[0]) if histograms else 0
    return {
        "site_id": site_id,
        "numeric": released["numeric"],
        "binary": released["binary"],
        "histograms": {e: released["histogram"][i * cells : (i + 1) * cells] for i, e in enumerate(settings.survival_endpoints)},
        "mechanisms": mechanisms,
        "l2_sensitivity": {part: sensitivity for part, (_, sensitivity) in parts.items()},
    }
