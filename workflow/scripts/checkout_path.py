"""Make the fedheme package of this checkout importable in every job, then hand the job to
the warm worker when one is up.

Snakemake puts a script's own folder on ``sys.path``; importing this module first puts
``src/`` of the same checkout there too, so a job runs the code of the workflow it belongs
to, whether it runs in the local .venv or in a rule's conda env on a cluster.

In a local run the Snakefile starts a warm worker (:mod:`fedheme.jobs.warm`) that has
imported torch, Opacus, scikit-survival and matplotlib once; :func:`hand_over` runs this
same script in a fork of it and exits with its status, or returns (no worker, another
interpreter, a cluster node) and the job goes on here.
"""

import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[2] / "src")
# first, even where Snakemake's preamble already appended it: a fedheme installed from
# another checkout (an editable install's .pth) comes earlier in the path
while SRC in sys.path:
    sys.path.remove(SRC)
sys.path.insert(0, SRC)

from fedheme.jobs.warm import hand_over  # noqa: E402

hand_over()
