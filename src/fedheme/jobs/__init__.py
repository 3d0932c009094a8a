"""The entry points the workflow's scripts call: one module per rules file
(``workflow/rules/<stage>.smk`` -> ``fedheme.jobs.<stage>``), each job a plain function of
paths and settings with keyword-only arguments, so rules stay thin and every step runs and
is tested without Snakemake. Jobs import the science lazily, inside the function, so a job
pays only for the modules it uses.

Jobs that run inside a site read its ``private/`` folder; jobs that run across sites read
only ``shared/`` releases and the tables pooled from them (``tests/test_boundary.py``).
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Iterator

__all__ = ["logged"]


@contextlib.contextmanager
def logged(log_path: str | Path) -> Iterator[logging.Logger]:
    """Send logging and stderr of a job to its Snakemake log file."""
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w", encoding="utf-8") as handle, contextlib.redirect_stderr(handle):
        logging.basicConfig(stream=handle, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", force=True)
        logger = logging.getLogger("fedheme")
        try:
            yield logger
        except Exception as err:  # the log file is what Snakemake shows on failure
            print(f"{type(err).__name__}: {err}", file=handle)
            raise
