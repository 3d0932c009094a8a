"""A site's one accountant over the whole study (``deployment`` mode), kept in its
``private/`` folder.

Every job that releases something about a site's patients charges its mechanisms here
first (:meth:`SiteAccountant.charge`): the accountant composes them with everything the
site already spent, in every earlier job of the study, and refuses, recording and writing
nothing, when the total would exceed the site's ``privacy.study_epsilon``. A charge whose
identity, mechanism and data were already spent counts once: with the site's key its
rerun draws the same noise on the same rows and releases nothing new. With the operating system's randomness
(no reproducible draws) every charge counts again.

The spent charges live in ``private/budget.tsv`` (one row per charge), updated under a file
lock, since a site's jobs may run in parallel.
"""

from __future__ import annotations

import fcntl
import os
import uuid
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from fedheme.privacy.accounting import Mechanism, epsilon_of
from fedheme.privacy.plan import BudgetExceeded, Charge, over_budget_message

BUDGET_FILE = "budget.tsv"
BUDGET_COLUMNS = ["identity", "name", "noise_multiplier", "sample_rate", "steps", "release"]


class SiteAccountant:
    """The accountant of one site of one disease, across every job of the study.

    Args:
        private_dir: the site's private folder (``results/<disease>/sites/<site>/private``).
        disease, site: named in the over-budget message.
        study_epsilon: the site's budget over the study, at ``delta``.
        reproducible: whether the site's draws come from its key (a rerun of an identity
            repeats its draws); False for the operating system's randomness.
    """

    def __init__(self, private_dir: str | Path, *, disease: str, site: str, study_epsilon: float, delta: float,
                 reproducible: bool = True):  # fmt: skip
        self.path = Path(private_dir) / BUDGET_FILE
        self.disease, self.site = disease, site
        self.study_epsilon, self.delta, self.reproducible = float(study_epsilon), float(delta), reproducible

    @contextmanager
    def _locked(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read(self) -> list[Charge]:
        if not self.path.exists():
            return []
        table = pd.read_csv(self.path, sep="\t", dtype={"identity": str, "name": str, "release": str}, keep_default_na=False)
        return [Charge(r.identity, Mechanism(r.name, float(r.noise_multiplier), float(r.sample_rate), int(r.steps), r.release))
                for r in table.itertuples()]  # fmt: skip

    def spent(self) -> list[Charge]:
        """Every charge recorded so far."""
        with self._locked():
            return self._read()

    def epsilon(self) -> float:
        """The site's epsilon so far (0 before any release)."""
        return epsilon_of([c.mechanism for c in self.spent()], self.delta)

    def charge(self, charges: list[Charge], *, data: str) -> float:
        """Record ``charges`` and return the site's new total, or raise
        :class:`~fedheme.privacy.plan.BudgetExceeded` (recording nothing) when the total
        would exceed the study budget.

        Args:
            data: the fingerprint of the patient rows released about
                (:func:`~fedheme.privacy.randomness.data_digest`): released again on
                changed data, the same identity is a new release and counts again.
        """
        charges = [Charge(f"{c.identity}@{data}", c.mechanism) for c in charges]
        with self._locked():
            spent = self._read()
            known = {(c.identity, c.mechanism) for c in spent}
            new = [c for c in charges if not self.reproducible or (c.identity, c.mechanism) not in known]
            if not self.reproducible:  # fresh draws: a repeat is a new release
                new = [Charge(f"{c.identity}#{uuid.uuid4().hex[:8]}", c.mechanism) for c in new]
            total = epsilon_of([c.mechanism for c in spent + new], self.delta)
            if total > self.study_epsilon:
                raise BudgetExceeded(over_budget_message(self.disease, self.site, total, self.study_epsilon, self.delta))
            if new:
                rows = pd.DataFrame([{"identity": c.identity, **c.mechanism.__dict__} for c in spent + new])
                partial = self.path.with_name(f".{self.path.name}.{os.getpid()}.partial")
                rows[BUDGET_COLUMNS].to_csv(partial, sep="\t", index=False)
                os.replace(partial, self.path)
                self.path.chmod(0o600)
            return total


def site_accountant(private_dir: str | Path, *, privacy: dict, delta: float, disease: str, site: str) -> SiteAccountant | None:
    """The site's study-wide accountant in ``deployment`` mode; None in ``research`` mode,
    where each run is accounted on its own and the study total is stated afterwards."""
    if privacy.get("mode", "research") != "deployment":
        return None
    return SiteAccountant(private_dir, disease=disease, site=site, study_epsilon=float(privacy["study_epsilon"]), delta=delta,
                          reproducible=privacy.get("randomness", "site_key") == "site_key")  # fmt: skip
