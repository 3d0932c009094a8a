"""Make the fedheme package of this checkout importable in every job.

Snakemake puts a script's own folder on ``sys.path``; importing this module first puts
``src/`` of the same checkout there too, so a job runs the code of the workflow it belongs
to, whether it runs in the local .venv or in a rule's conda env on a cluster.
"""

import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[2] / "src")
if SRC not in sys.path:
    sys.path.insert(0, SRC)
