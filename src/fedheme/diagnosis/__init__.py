"""Diagnosis at each site: WHO 2022 and ICC 2022 classification of MDS from the harmonised
data (inside a site: :mod:`.classification`), a site's suppressed cross-tabulation of the
reclassification (inside a site: :mod:`.release`) and its pooling over sites (cross-site:
:mod:`.pooling`)."""

from fedheme._exports import lazy_exports

_EXPORTS = {
    "who2022": "classification",
    "icc2022": "classification",
    "classify": "classification",
    "crosstab": "classification",
    "crosstab_release": "release",
    "pool_crosstabs": "pooling",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
