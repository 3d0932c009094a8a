"""The tabular disease kind (multiple myeloma, sickle cell disease, a researcher's own
cohort): one CSV per site checked against the columns declared in config, split and QC'd
inside the site, and simulated sites with a known truth."""

from fedheme._exports import lazy_exports

_EXPORTS = {
    "read_tabular_site": "reading",
    "TabularIngestOutputs": "ingest",
    "ingest_tabular_site": "ingest",
    "assign_split": "ingest",
    "tabular_qc": "qc",
    "tabular_qc_markdown": "qc",
    "GeneratorSettings": "simulate",
    "simulate_tabular": "simulate",
    "write_site_csv": "simulate",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
