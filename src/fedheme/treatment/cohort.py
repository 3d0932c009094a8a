"""A site's patients in the transplant model, inside the site: who enters it, their effect
modifiers, and their design matrix with the per-bin transplant coding
(:mod:`fedheme.treatment.coding`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fedheme.standard.mds import DAYS_PER_YEAR
from fedheme.treatment.coding import MODIFIERS, TransplantCoding

log = logging.getLogger("fedheme")


def modifier_matrix(patients: pd.DataFrame, names: tuple[str, ...]) -> np.ndarray:
    """Scaled effect modifiers of each patient, shape (n, m), float32 (NaN where unknown).

    ``ipssm_score`` is computed from the harmonised rows (:func:`fedheme.scores.mds.ipssm`,
    mean scenario) unless the frame already holds it."""
    columns = []
    for name in names:
        low, high, centre, scale = MODIFIERS[name]
        if name in patients.columns:
            raw = pd.to_numeric(patients[name], errors="coerce")
        elif name == "ipssm_score":
            from fedheme.scores.mds import ipssm

            raw = ipssm(patients)["ipssm_score"]
        else:
            raise KeyError(f"effect modifier {name!r} is not a column of the patients")
        columns.append(((raw.clip(low, high) - centre) / scale).to_numpy(dtype=float))
    return np.column_stack(columns).astype(np.float32) if columns else np.zeros((len(patients), 0), np.float32)


@dataclass
class TransplantCohort:
    """The patients of a site that enter the transplant model, with their coding inputs.

    Attributes:
        rows: their harmonised rows.
        transplant_years: time of transplant (years from diagnosis), inf if none, shape (n,).
        modifiers: scaled effect modifiers, shape (n, m).
    """

    rows: pd.DataFrame
    transplant_years: np.ndarray
    modifiers: np.ndarray


def transplant_cohort(patients: pd.DataFrame, coding: TransplantCoding, *, time: str = "os_years", event: str = "os_status") -> TransplantCohort:
    """Patients with a known outcome, a known transplant status (and date, if transplanted)
    and known effect modifiers. The job's log gives the reasons some were left out, never
    counts or names: a patient transplanted on an unknown date cannot be coded in time."""
    rows = patients.reset_index(drop=True)
    modifiers = modifier_matrix(rows, coding.modifiers)
    status = pd.to_numeric(rows["transplant"], errors="coerce")
    days = pd.to_numeric(rows["time_to_transplant_days"], errors="coerce")
    keep = (rows[time].notna() & rows[event].notna() & status.isin([0, 1]) & ~((status == 1) & days.isna())
            & ~np.isnan(modifiers).any(axis=1))  # fmt: skip
    reasons = {"unknown outcome": (rows[time].isna() | rows[event].isna()).any(),
               "unknown transplant status": (~status.isin([0, 1])).any(),
               "transplanted on an unknown date": ((status == 1) & days.isna()).any(),
               "unknown effect modifier": np.isnan(modifiers).any()}  # fmt: skip
    if (~keep).any():
        # reasons only, never counts: the simulated federation's training log is not a site's
        log.info("transplant model: patients left out for %s", ", ".join(k for k, v in reasons.items() if v))
    keep = keep.to_numpy()
    years = np.where(status[keep] == 1, days[keep] / DAYS_PER_YEAR, np.inf)
    return TransplantCohort(rows[keep].reset_index(drop=True), years.astype(float), modifiers[keep])


def transplant_design(cohort: TransplantCohort, settings, stats: dict, coding: TransplantCoding):
    """One site's design matrix for the transplant model (inside the site), from its
    :func:`transplant_cohort`: features standardised with the pooled released statistics,
    overall survival as recorded (followed through transplant) discretised on the public
    bins, and the per-bin transplant coding.

    Returns:
        :class:`fedheme.federated.design.DesignMatrix` with ``treatment`` of shape (n, K, D).
    """
    from fedheme.federated.design import DesignMatrix, feature_matrix
    from fedheme.models.timebins import discretise

    rows = cohort.rows
    time, status = rows["os_years"].to_numpy(dtype=float), rows["os_status"].to_numpy(dtype=float)
    bin_index, event = discretise(time, status, np.asarray(coding.edges), coding.horizon)
    return DesignMatrix(feature_matrix(rows, settings, stats), bin_index, event, time, status, rows["patient_id"].to_numpy(),
                        coding.code(cohort.transplant_years, cohort.modifiers))  # fmt: skip
