"""Allogeneic transplant in the harmonised MDS data: its date checked against follow-up, and
the natural-history endpoints (OS and LFS censored at transplant) derived from it.

IPSS-R (Greenberg et al., Blood 2012) and IPSS-M (Bernard et al., NEJM Evidence 2022) were
fitted on the natural history of MDS: follow-up ends at allogeneic haematopoietic stem-cell
transplant (HSCT), which changes the course of the disease. A prognostic model compared with
them is trained and evaluated the same way, so the harmonised file carries, beside the
recorded ``os`` and ``lfs``, the derived ``os_nh`` and ``lfs_nh``:

- not transplanted (``transplant`` 0 or missing): the recorded endpoint unchanged;
- transplanted at day d (``time_to_transplant_days``), t = d / 365.25 years: the recorded
  endpoint when its time is <= t (the event or censoring came first, e.g. AML before
  transplant for LFS), else censored at t (status 0);
- transplanted on an unknown date: missing (nobody knows where natural history ended).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fedheme.data.issues import IssueCollector
from fedheme.standard.mds import DAYS_PER_YEAR, NATURAL_HISTORY, SURVIVAL_ENDPOINTS

#: One day, in years: the slack of comparing a date in days with follow-up in years.
ONE_DAY_YEARS = 1.0 / 365.0


def transplant_problems(patients: pd.DataFrame) -> pd.DataFrame:
    """Rows whose transplant date contradicts the rest of the record.

    Args:
        patients: harmonised rows with ``transplant``, ``time_to_transplant_days`` and
            ``os_years`` (float, NaN missing).

    Returns:
        One row per problem: ``index`` (the row's label in ``patients``), ``column``
        (the harmonised column at fault) and ``message``. A negative date is the schema's
        to report (a time is >= 0).
    """
    days = patients["time_to_transplant_days"]
    dated = days.notna() & (days >= 0)
    rows = []
    not_transplanted = dated & (patients["transplant"] == 0)
    for index in patients.index[not_transplanted]:
        rows.append((index, "time_to_transplant_days", f"a transplant date ({days[index]:g} days) is given while transplant is 0"))
    end = patients["os_years"]
    after = dated & end.notna() & (days / DAYS_PER_YEAR > end + ONE_DAY_YEARS)
    for index in patients.index[after]:
        rows.append((index, "time_to_transplant_days",
                     f"transplant at day {days[index]:g} is after the end of follow-up "
                     f"(os_years {end[index]:g} = day {end[index] * DAYS_PER_YEAR:.0f})"))  # fmt: skip
    return pd.DataFrame(rows, columns=["index", "column", "message"])


def check_transplant_dates(patients: pd.DataFrame, export_name, file: str, issues: IssueCollector) -> None:
    """Add an issue (file, line, exported column) for every row of :func:`transplant_problems`.

    Args:
        patients: harmonised rows indexed by their line in the export.
        export_name: harmonised column -> the column name the site wrote.
    """
    for row in transplant_problems(patients).itertuples(index=False):
        issues.add(file, int(row.index), export_name(row.column), row.message)


def censor_at_transplant(patients: pd.DataFrame) -> pd.DataFrame:
    """Add the natural-history endpoints (``os_nh_years``/``os_nh_status``, ``lfs_nh_...``).

    Args:
        patients: harmonised rows (the recorded endpoints, ``transplant`` and
            ``time_to_transplant_days``, already checked).

    Returns:
        A copy with the derived columns (see the module docstring for the rule).
    """
    out = patients.copy()
    transplanted = patients["transplant"] == 1
    t = patients["time_to_transplant_days"] / DAYS_PER_YEAR
    undated = transplanted & t.isna()
    for natural, recorded in NATURAL_HISTORY.items():
        time_col, event_col = SURVIVAL_ENDPOINTS[recorded]
        nh_time, nh_event = SURVIVAL_ENDPOINTS[natural]
        time, event = patients[time_col].astype(float), patients[event_col].astype(float)
        censor = transplanted & t.notna() & time.notna() & (t < time)
        out[nh_time] = np.where(censor, t, time)
        out[nh_event] = np.where(censor, 0.0, event)
        out.loc[undated, [nh_time, nh_event]] = np.nan
        out[nh_time] = out[nh_time].astype("float64")
        out[nh_event] = out[nh_event].astype("float64")
    return out


def reconcile_release_dates(patients: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Drop the transplant dates of the published IWG-PM release that contradict its records.

    The release has 5 such dates among 260 (a negative one for a patient not transplanted;
    four after the end of follow-up). A hospital's export with them would be refused by
    :func:`check_transplant_dates`; the bundled cohort keeps the patients and treats those
    dates as unknown (so they have no natural-history endpoint), and says so.

    Returns:
        (patients with those dates set missing, one note per date dropped).
    """
    problems = transplant_problems(patients)
    negative = patients.index[patients["time_to_transplant_days"] < 0]
    bad = sorted(set(problems["index"]) | set(negative))
    out = patients.copy()
    out.loc[bad, "time_to_transplant_days"] = np.nan
    notes = [f"patient {patients.at[i, 'patient_id']}: transplant date {patients.at[i, 'time_to_transplant_days']:g} days "
             "contradicts the record (negative, not transplanted, or after follow-up); treated as unknown" for i in bad]  # fmt: skip
    return out, notes
