"""Inside a site: the code that reads and transforms a site's patient rows.

Each disease kind has its own sub-package (:mod:`~fedheme.data.iwgpm` for the MDS schema
and its export dialects, :mod:`~fedheme.data.tabular` for a cohort declared in config),
with reading and checking of exports, ingestion, QC and simulation. Shared here: problems
reported by file, line and column (:mod:`.issues`), the within-site split (:mod:`.splits`)
and model features computed from rows (:mod:`.features`). Only a site's own jobs import
this package; nothing that runs across sites may (``tests/test_boundary.py``)."""

from fedheme._exports import lazy_exports

_EXPORTS = {
    "Issue": "issues",
    "IssueCollector": "issues",
    "ExportValidationError": "issues",
    "SPLITS": "splits",
    "within_site_split": "splits",
    "subset_rows": "splits",
    "model_features": "features",
    "site_sizes": "simulation",
    "DERIVED_FEATURES": "features",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
