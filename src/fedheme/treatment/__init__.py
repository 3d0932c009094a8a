"""Treatment decisions: when to transplant (allogeneic HSCT) in MDS, learned across sites.

* :mod:`.coding`: the public time axis and the time-dependent transplant coding (shared);
* :mod:`.cohort`: a site's patients in the model, with their coding (inside a site);
* :mod:`.release`: a site's DP count table of transplanted patients by IPSS-M category (inside a site);
* :mod:`.rmst`, :mod:`.decision`: RMST and the policies compared by it (shared);
* :mod:`.validation`: time-dependent concordance and Brier score (shared metrics);
* :mod:`.evaluation`: a held-out site's evaluation of a fold's models (inside a site);
* :mod:`.clinic`: ``fedheme hsct``, for a clinician's own patients (inside a site);
* :mod:`.pooling`: the cross-site tables (released files only).

Training is the federated trainer's (:func:`fedheme.federated.fold.train_fold` with
``treatment``).
"""

from fedheme._exports import lazy_exports

_EXPORTS = {
    "TransplantCoding": "coding",
    "MODIFIERS": "coding",
    "transplant_cohort": "cohort",
    "transplant_design": "cohort",
    "modifier_matrix": "cohort",
    "transplant_release": "release",
    "transplant_counts": "release",
    "rmst": "rmst",
    "policies": "decision",
    "policy_rmst": "decision",
    "time_dependent_c": "validation",
    "person_period_brier": "validation",
    "evaluate_transplant_site": "evaluation",
    "hsct_file": "clinic",
    "pool_transplant_releases": "pooling",
    "over_seeds": "pooling",
    "effect_table": "pooling",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
