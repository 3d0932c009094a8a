"""``flwr-clientapp`` of a hospital's SuperNode, pinned to the installed fedheme (site side).

Flower runs a ClientApp from the app package (FAB) the coordinator submits: it installs
the package and imports the ClientApp from it, its folder first on ``sys.path``. A
coordinator could thus run code of its own choosing inside the hospital, next to its
patients and secret key. ``fedheme node`` puts this program first on its SuperNode's PATH
under Flower's name, ``flwr-clientapp``: it runs Flower's own ``flwr-clientapp`` with the
FAB neither installed nor imported, and always answers with the installed package's
:data:`fedheme.network.client_app.client_app`. What the coordinator sends is data only.
"""

from __future__ import annotations

import sys


def _installed_client_app(*_args, **_kwargs):
    from fedheme.network.client_app import client_app

    return client_app


def _refuse_dependencies(*_args, **_kwargs):
    raise RuntimeError("a hospital node installs no dependencies of the coordinator's app package")


def pin(runtime) -> None:
    """Make Flower's ClientApp runtime module ``runtime`` (``flwr.supernode.runtime.run_clientapp``)
    ignore the FAB's code, install none of its dependencies, and load the installed
    fedheme ClientApp."""
    runtime.install_from_fab = lambda *args, **kwargs: None
    runtime.install_app_dependencies = _refuse_dependencies
    runtime.get_load_client_app_fn = lambda *args, **kwargs: _installed_client_app


def main() -> None:
    from flwr.supernode.cli import flwr_clientapp
    from flwr.supernode.runtime import run_clientapp as runtime

    pin(runtime)
    sys.argv[0] = "flwr-clientapp"
    flwr_clientapp()


if __name__ == "__main__":
    main()
