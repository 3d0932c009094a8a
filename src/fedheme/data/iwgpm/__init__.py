"""The MDS disease kind (the IWG-PM schema): a site's export in its dialect, read and checked
cell by cell, harmonised, split and QC'd inside the site; the bundled cohort; simulated
sites; and the descriptive aggregates a site releases."""

from fedheme._exports import lazy_exports

_EXPORTS = {
    "Dialect": "dialects",
    "load_dialect": "dialects",
    "builtin_dialects": "dialects",
    "DialectError": "dialects",
    "SiteExport": "validation",
    "read_site_export": "validation",
    "derive_tp53": "validation",
    "Cohort": "cohort",
    "load_iwgpm": "cohort",
    "load_published_scores": "cohort",
    "IngestOutputs": "ingest",
    "ingest_site": "ingest",
    "qc_summary": "qc",
    "qc_markdown": "qc",
    "SimulationSettings": "simulate",
    "simulate_sites": "simulate",
    "write_site_export": "simulate",
    "site_aggregates": "aggregates",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
