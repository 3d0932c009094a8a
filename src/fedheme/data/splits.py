"""The within-site train/test split, drawn inside each site and stratified by event, and
the selection of a subset (``all``, ``train``, ``test``) of a site's patients."""

from __future__ import annotations

import numpy as np
import pandas as pd

SPLITS = ("train", "test")


def within_site_split(event: pd.Series, test_fraction: float, rng: np.random.Generator) -> pd.Series:
    """Assign each patient to 'train' or 'test', stratified by event (missing = own stratum).

    Args:
        event: 0/1 (or missing) outcome per patient.
        test_fraction: share of each stratum sent to test (rounded to the nearest patient).
        rng: the site's draw for its split (:mod:`fedheme.privacy.randomness`).

    Returns:
        A Series of 'train'/'test' with ``event``'s index.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    split = pd.Series("train", index=event.index, dtype=object)
    strata = event.fillna(-1)
    for value in sorted(strata.unique()):
        members = strata.index[strata == value].to_numpy()
        n_test = int(round(test_fraction * len(members)))
        split.loc[rng.permutation(members)[:n_test]] = "test"
    return split


def subset_rows(patients: pd.DataFrame, subset: str) -> pd.DataFrame:
    """The rows of ``subset``: every patient (``all``) or one split (``train``, ``test``)."""
    if subset == "all":
        return patients
    if subset in SPLITS:
        return patients[patients["split"] == subset]
    raise ValueError(f"unknown subset {subset!r}; choose 'all' or one of {SPLITS}")
