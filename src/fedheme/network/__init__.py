"""Networked federation on Flower: each hospital a node on its own machine.

The same DP training as the pipeline's simulated federation, over a network:

* :mod:`.study`: what a run is (disease, endpoint, fold, strategy, epsilon, seed) and the
  study config every party reads (public);
* :mod:`.node`: a hospital's node (site side): it reads only its own data folder, makes
  its releases, trains each round with its own accountant and secret key, and persists
  both across rounds and restarts;
* :mod:`.coordinator`: the coordinator (across sites): it sees only the releases, the
  weights and the ledger rows the nodes send, and runs the pipeline's rounds
  (:func:`fedheme.federated.server.run_rounds`);
* :mod:`.server_app`, :mod:`.client_app`, :mod:`.messages`: Flower's ServerApp (the
  coordinator's) and ClientApp (a hospital's) and the messages between them;
* :mod:`.processes`: starting a SuperLink, SuperNodes and a run as processes
  (``fedheme coordinate``, ``fedheme node``).
"""

from fedheme._exports import lazy_exports

_EXPORTS = {
    "NetworkRun": "study",
    "load_study_config": "study",
    "SiteNode": "node",
    "NodeSettings": "node",
    "coordinate": "coordinator",
    "Federation": "processes",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
