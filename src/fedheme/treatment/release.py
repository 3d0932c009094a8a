"""How many of its MDS patients a site transplanted, by IPSS-M category: one count table
released with Gaussian noise (or exactly, in ``research`` mode) and small cells suppressed.

Inside the site, each patient with a known transplant status (``transplant`` 0 or 1;
patients with NaN are not counted) falls in exactly one cell of a table of shape (7, 2):
row = IPSS-M category (:data:`CATEGORIES`: the six published categories, then ``not
classifiable`` for patients whose IPSS-M could not be computed), column = [not
transplanted, transplanted]. Adding or removing one patient changes one cell by 1, so the
table has L2 sensitivity 1 and is ONE Gaussian mechanism (noise sd = noise multiplier,
sample rate 1, one step: :func:`transplant_mechanism`), charged once to the site's budget.

What an attacker could solve for, and why it is safe:

* noisy release: every cell carries independent N(0, sigma^2) noise drawn from the site's
  secret key; rounding is post-processing, so the whole file is (epsilon, delta)-DP for
  the one mechanism in the ledger. Noisy cells are released whole, even small or
  negative ones: clipping or hiding them would bias sums over sites, and they need no
  hiding. Differencing with another release of the site (the descriptive aggregates'
  exact ``n``, say) recovers at best a sum of noisy cells, never a patient. A rerun on the
  same rows with the same noise multiplier draws the same noise (the identity holds a
  digest of the rows and the multiplier), so repeating the job releases nothing new;
  changed rows or another multiplier draw fresh noise (the same draw scaled twice would
  let anyone solve for the counts).
* exact release (noise multiplier 0, ``research`` mode only; listed as non-private): a
  count strictly between 0 and ``min_cell_count`` is hidden. No totals are released, but
  other releases may hold them (the site's size in its aggregates, the size of an IPSS-M
  group, the patients transplanted), so hiding is done so that no hidden cell equals a
  known total minus released cells: a category with a small cell is hidden whole (its
  complement would give it back from the category's size), and when that leaves one hidden
  category, the next smallest category holding patients is hidden too (else a column total
  minus the released cells of that column would give it back).
"""

from __future__ import annotations


import numpy as np
import pandas as pd

from fedheme.privacy.accounting import Mechanism
from fedheme.privacy.mechanisms import gaussian_release
from fedheme.privacy.suppression import is_small
from fedheme.scores.mds import IPSSM_CATEGORIES

#: Mechanism name of the count table (ledger column ``mechanism``).
TRANSPLANT_TABLE = "gaussian-transplant-table"
#: Release name (ledger column ``release``): a study composes it once per site.
RELEASE = "transplant_by_ipssm"
NOT_CLASSIFIABLE = "not classifiable"
#: Rows of the table: the IPSS-M categories from lowest to highest risk, then patients without one.
CATEGORIES: tuple[str, ...] = (*IPSSM_CATEGORIES, NOT_CLASSIFIABLE)
#: Columns of the table.
COLUMNS: tuple[str, str] = ("not_transplanted", "transplanted")


def _joined(patients: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """``patient_id``, ``ipssm_category`` and ``transplant`` of every patient, checked.

    Raises:
        ValueError: duplicated patient ids, a patient without a scores row, an unknown
            category or a transplant value other than 0, 1 or NaN (counts only: no message
            names a patient).
    """
    for name, frame in (("patients", patients), ("scores", scores)):
        if frame["patient_id"].duplicated().any():
            raise ValueError(f"{int(frame['patient_id'].duplicated().sum())} patient ids appear more than once in {name}")
    category = patients["patient_id"].map(scores.set_index("patient_id")["ipssm_category"])
    missing = ~patients["patient_id"].isin(scores["patient_id"])
    if missing.any():
        raise ValueError(f"{int(missing.sum())} patients have no row in the scores")
    unknown = category.notna() & ~category.isin(IPSSM_CATEGORIES)
    if unknown.any():
        raise ValueError(f"{int(unknown.sum())} patients have an IPSS-M category outside {IPSSM_CATEGORIES}")
    transplant = pd.to_numeric(patients["transplant"], errors="raise").astype(float)
    if (transplant.notna() & ~transplant.isin([0.0, 1.0])).any():
        raise ValueError("transplant must be 0, 1 or missing")
    return pd.DataFrame({"patient_id": patients["patient_id"].to_numpy(), "ipssm_category": category.to_numpy(),
                         "transplant": transplant.to_numpy()})  # fmt: skip


def transplant_counts(patients: pd.DataFrame, scores: pd.DataFrame) -> np.ndarray:
    """Exact counts of the site's patients, shape (7, 2): rows :data:`CATEGORIES`, columns
    [not transplanted, transplanted]. Patients with unknown transplant status (NaN) are not
    counted; patients without an IPSS-M category count as ``not classifiable``.

    Args:
        patients: harmonised rows (``patient_id``, ``transplant`` 0/1/NaN).
        scores: the site's clinical scores (``patient_id``, ``ipssm_category``), a row for
            every patient of ``patients`` (joined on ``patient_id``).
    """
    rows = _joined(patients, scores)
    rows = rows[rows["transplant"].notna()]
    codes = pd.Categorical(rows["ipssm_category"], categories=IPSSM_CATEGORIES).codes
    row = np.where(codes < 0, len(IPSSM_CATEGORIES), codes)
    table = np.zeros((len(CATEGORIES), 2), dtype=np.int64)
    np.add.at(table, (row, rows["transplant"].to_numpy().astype(int)), 1)
    return table


def transplant_mechanism(noise_multiplier: float) -> Mechanism:
    """The release's one Gaussian mechanism (sensitivity 1, sample rate 1, one step);
    without noise it has no steps, so an exact release is never composed as DP: it is
    listed as non-private instead."""
    sigma = float(noise_multiplier)
    return Mechanism(TRANSPLANT_TABLE, sigma, 1.0, 1 if sigma > 0 else 0, RELEASE)


def _hidden(cells: np.ndarray, min_cell_count: int) -> np.ndarray:
    """Which cells (7, 2) of an exact release to hide: small ones, and those from which a
    small one could be recovered by subtraction from a total (module docstring)."""
    small = np.vectorize(lambda v: is_small(int(v), min_cell_count), otypes=[bool])(cells)
    if not small.any():
        return small
    rows = small.any(axis=1)
    if rows.sum() == 1:
        totals = cells.sum(axis=1)
        others = [i for i in np.argsort(totals, kind="stable") if not rows[i] and totals[i] > 0]
        if others:
            rows[others[0]] = True
        else:  # the only category with patients: a column total is that category
            rows[:] = True
    return np.repeat(rows[:, None], 2, axis=1)


def transplant_release(patients: pd.DataFrame, scores: pd.DataFrame, *, site_id: str, noise_multiplier: float,
                       min_cell_count: int, rng: np.random.Generator) -> dict:  # fmt: skip
    """The site's released table of patients transplanted by IPSS-M category.

    Args:
        patients, scores: as for :func:`transplant_counts`.
        site_id: recorded in the release.
        noise_multiplier: noise sd per cell (L2 sensitivity 1); 0 releases exact counts
            (``research`` mode, marked ``"exact": true``).
        min_cell_count: exact counts in (0, min_cell_count) are null (with the cells that
            would give them back); noisy counts are released whole (they may be negative).
        rng: the site's draw for this release (from its secret key).

    Returns:
        A JSON-ready dict: ``cells`` maps each category to its ``not_transplanted`` and
        ``transplanted`` count (whole patients, noisy unless exact; null when suppressed);
        ``suppressed`` lists the hidden cells as ``<category>.<column>``; no totals.
    """
    if noise_multiplier < 0:
        raise ValueError(f"noise_multiplier must be >= 0, got {noise_multiplier}")
    exact = noise_multiplier == 0
    counts = transplant_counts(patients, scores)
    noisy = gaussian_release(counts, 1.0, float(noise_multiplier), rng)
    # noisy cells are released whole, rounded (post-processing): neither clipped at 0 nor
    # hidden when small, which would bias sums over sites; exact cells follow the small-cell rule
    released = np.rint(noisy).astype(np.int64)
    hidden = _hidden(released, int(min_cell_count)) if exact else np.zeros(released.shape, bool)
    mechanism = transplant_mechanism(noise_multiplier)
    return {
        "site_id": site_id,
        "release": RELEASE,
        "categories": list(CATEGORIES),
        "columns": list(COLUMNS),
        "cells": {c: {col: None if hidden[i, j] else int(released[i, j]) for j, col in enumerate(COLUMNS)}
                  for i, c in enumerate(CATEGORIES)},  # fmt: skip
        "exact": bool(exact),
        "noise_multiplier": float(noise_multiplier),
        "min_cell_count": int(min_cell_count),
        "suppressed": [f"{c}.{col}" for i, c in enumerate(CATEGORIES) for j, col in enumerate(COLUMNS) if hidden[i, j]],
        "mechanism": {"name": mechanism.name, "release": mechanism.release, "l2_sensitivity": 1.0,
                      "noise_sd": float(noise_multiplier), "sample_rate": mechanism.sample_rate, "steps": mechanism.steps,
                      "post_processing": "rounded to whole patients" + (", values in (0, min_cell_count) null with the cells that would give them back" if exact else ", unclipped (unbiased sums)")},
    }  # fmt: skip
