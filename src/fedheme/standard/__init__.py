"""The data standard every site follows: harmonised variables with units, ranges and codes
(MDS), the declared layout of tabular diseases, and which features a model sees.

Public metadata, no patient rows: code on both sides of the trust boundary imports it."""

from fedheme._exports import lazy_exports

_EXPORTS = {
    "Variable": "mds",
    "HARMONISED_VARIABLES": "mds",
    "CLINICAL_VARIABLES": "mds",
    "VARIABLES_BY_NAME": "mds",
    "SURVIVAL_ENDPOINTS": "mds",
    "CYTO_IPSSR_CATEGORIES": "mds",
    "harmonised_schema": "mds",
    "data_dictionary": "mds",
    "gene_column": "mds",
    "PANEL_GENES": "mds_catalogue",
    "CNA_EVENTS": "mds_catalogue",
    "FeatureSpec": "features",
    "DERIVED_FEATURE_NAMES": "features",
    "TabularSpec": "tabular",
    "Column": "tabular",
    "Endpoint": "tabular",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
