"""Discrete-time survival models: the time bins, the per-patient logistic-hazard loss, the
networks (one registry), their LightningModules, and the model bundles that carry trained
weights from a training job to the test sites; the softmax classifiers of a categorical
outcome beside them (their loss, networks and LightningModules)."""

from fedheme._exports import lazy_exports

_EXPORTS = {
    "histogram_grid": "timebins",
    "event_histogram": "timebins",
    "bin_edges_from_histogram": "timebins",
    "discretise": "timebins",
    "logistic_hazard_loss": "losses",
    "LogisticHazardLoss": "losses",
    "softmax_loss": "losses",
    "SOFTMAX_NETWORKS": "networks",
    "SoftmaxNet": "networks",
    "SOFTMAX_MODULES": "lightning",
    "SoftmaxClassifier": "lightning",
    "NETWORKS": "networks",
    "LogisticHazardNet": "networks",
    "build_network": "networks",
    "MODULES": "lightning",
    "LogisticHazard": "lightning",
    "build_model": "lightning",
    "save_bundle": "bundle",
    "load_bundle": "bundle",
    "bundle_model": "bundle",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
