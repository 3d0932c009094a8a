"""Federated training with record-level DP: what a site releases before training and its
design matrix (:mod:`.releases`, :mod:`.design`), the site client running DP-SGD
(:mod:`.client`), the server that sees only releases and weights (:mod:`.server`), and one
fold's training grid in the simulated federation (:mod:`.fold`)."""

from fedheme._exports import lazy_exports

_EXPORTS = {
    "TrainConfig": "config",
    "DesignSettings": "config",
    "STRATEGIES": "config",
    "training_release": "releases",
    "DesignMatrix": "design",
    "design_matrix": "design",
    "Client": "client",
    "combine_releases": "server",
    "run_federated": "server",
    "ServerState": "server",
    "FoldInputs": "fold",
    "train_fold": "fold",
    "resolve_device": "fold",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
