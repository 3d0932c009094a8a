"""Diagnosis at each site: WHO 2022 and ICC 2022 classification of MDS from the harmonised
data (inside a site: :mod:`.classification`), a site's suppressed cross-tabulation of the
reclassification (inside a site: :mod:`.release`) and its pooling over sites (cross-site:
:mod:`.pooling`); a site's data as an HL7 FHIR bundle, written to its private folder
(inside a site: :mod:`.fhir`); the marrow-blast classifier's public settings
(:mod:`.marrow`), its evaluation at a test site (:mod:`.marrow_evaluation`) and its
cross-site tables (:mod:`.marrow_pooling`)."""

from fedheme._exports import lazy_exports

_EXPORTS = {
    "who2022": "classification",
    "icc2022": "classification",
    "classify": "classification",
    "crosstab": "classification",
    "crosstab_release": "release",
    "pool_crosstabs": "pooling",
    "site_bundle": "fhir",
    "write_site_bundle": "fhir",
    "read_site_bundle": "fhir",
    "design_settings": "marrow",
    "peripheral_rule": "marrow",
    "evaluate_marrow_site": "marrow_evaluation",
    "marrow_metrics": "marrow_pooling",
    "marrow_summary": "marrow_pooling",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
