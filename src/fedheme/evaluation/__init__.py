"""Cross-site validation: metrics with bootstrap intervals (all replicates at once), life
tables, the evaluation a test site runs on its own patients (:mod:`.site`), and the
pooling over sites of what they release (:mod:`.pooling`)."""

from fedheme._exports import lazy_exports

_EXPORTS = {
    "bootstrap": "",
    "EvaluationSettings": "metrics",
    "SiteOutcome": "metrics",
    "evaluate_risk": "metrics",
    "evaluate_binary": "metrics",
    "percentile_interval": "metrics",
    "life_table": "lifetable",
    "actuarial_survival": "lifetable",
    "risk_groups": "lifetable",
    "evaluate_site": "site",
    "SiteEvaluation": "site",
    "pool_sites": "pooling",
    "metrics_table": "pooling",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
