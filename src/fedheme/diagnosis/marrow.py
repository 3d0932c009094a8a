"""The marrow-blast classifier's public settings: what it predicts, from which features, and
the peripheral-blast rule it is compared with. Configuration only (no patient row): the
sites, the training job and the cross-site tables all read it.

The question (``diseases.<d>.diagnosis.marrow_blasts`` in config): from blood counts,
peripheral blasts and a blood NGS panel, without a marrow sample, which marrow blast
category (< 5%, 5-9%, >= 10% by default) would a biopsy show? The cut points are WHO's
(Arber et al., Blood 2016;127:2391-405; Khoury et al., Leukemia 2022;36:1703-19: MDS with
excess blasts / increased blasts 1 at 5-9% and 2 at 10-19% marrow blasts). A marrow
measurement cannot be a feature: :data:`MARROW_FEATURES` are refused.

The class of a patient is the number of cut points at or below the marrow blast
percentage (:meth:`fedheme.federated.config.DesignSettings.bins`); patients without a
marrow blast count are not in the classifier's data.
"""

from __future__ import annotations

import numpy as np

from fedheme.federated.config import DesignSettings
from fedheme.grid import DIAGNOSIS
from fedheme.standard.features import FeatureSpec

#: The harmonised column whose category the classifier predicts.
MARROW_COLUMN = "bm_blast_pct"
#: Measured on a marrow sample (aspirate, biopsy or marrow karyotype), so not a feature of a
#: model meant to stand in for one: marrow blasts and ring sideroblasts, the karyotype and
#: what is derived from it (IPSS-R cytogenetics, copy-number calls, IPSS-M variables that
#: read them).
MARROW_FEATURES = ("bm_blast_pct", "ringed_sideroblasts_pct", "karyotype", "cyto_ipssr", "complex_karyotype", "chr17_status",
                   "cyto_ordinal", "ipssm_tp53multi", "ipssm_sf3b1_5q", "ipssm_sf3b1_alpha")  # fmt: skip
#: WHO 2016 peripheral-blood blast cut points (%) of MDS-EB-1 (2-4%) and MDS-EB-2 (5-19%):
#: the peripheral-blast rule reads < 2% as marrow < 5%, 2-4% as 5-9%, >= 5% as >= 10%
#: (Arber et al., Blood 2016;127:2391-405).
PERIPHERAL_CUTS = (2.0, 5.0)
#: The marrow blast cut points (%) the peripheral-blast rule's classes stand for.
RULE_CUTS = (5.0, 10.0)


def labelled(patients):
    """The patients with a marrow blast count: the classifier's data (its releases too, so
    that their noisy count describes the patients it trains on)."""
    return patients[patients[MARROW_COLUMN].notna()]


def marrow_features(study: dict) -> list[str]:
    """The marrow-derived features a study's ``features`` block names (to be refused)."""
    names = list(study["features"].get("numeric", [])) + list(study["features"].get("binary", []))
    return [n for n in names if n in MARROW_FEATURES or n.startswith("cna_")]


def design_settings(study: dict, training: dict) -> DesignSettings:
    """The classifier's features, bounds and categories (one categorical endpoint,
    :data:`fedheme.grid.DIAGNOSIS`, from :data:`MARROW_COLUMN`).

    Args:
        study: config ``diseases.<d>.diagnosis.marrow_blasts``.
        training: the classifier's training block (horizon and bins are unused).

    Raises:
        ValueError: naming any marrow-derived feature.
    """
    marrow = marrow_features(study)
    if marrow:
        raise ValueError(f"diagnosis.marrow_blasts.features: {marrow} are measured on a marrow sample; the classifier stands in for one")
    features = study["features"]
    return DesignSettings(
        FeatureSpec.from_config(features), {k: tuple(v) for k, v in features.get("bounds", {}).items()}, (DIAGNOSIS,),
        float(training["horizon_years"]), int(training["n_bins"]), {DIAGNOSIS: (None, MARROW_COLUMN)},
        {DIAGNOSIS: tuple(float(c) for c in study["cuts"])},
    )  # fmt: skip


def class_labels(cuts) -> list[str]:
    """Readable names of the classes of ``cuts`` (percent): ``['<5%', '5-<10%', '>=10%']``."""
    cuts = [float(c) for c in cuts]
    inner = [f"{low:g}-<{high:g}%" for low, high in zip(cuts[:-1], cuts[1:])]
    return [f"<{cuts[0]:g}%"] + inner + [f">={cuts[-1]:g}%"]


def peripheral_rule(pb_blast_pct: np.ndarray) -> np.ndarray:
    """The peripheral-blast rule's class of each patient (:data:`PERIPHERAL_CUTS`), shape (n,);
    -1 where the peripheral blast count is missing."""
    pb = np.asarray(pb_blast_pct, dtype=float)
    return np.where(np.isfinite(pb), np.searchsorted(np.asarray(PERIPHERAL_CUTS), np.nan_to_num(pb), side="right"), -1)
