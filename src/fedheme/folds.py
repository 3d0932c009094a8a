"""Folds of cross-site validation, named as in the workflow's paths.

* ``loso-<site>``: train on every other site; ``<site>`` tests on all its patients.
* ``within``: train on every site's training split; each site tests on its test split.
* ``all``: train on every site's patients; nobody tests (the model a study deploys, e.g.
  the transplant model of ``fedheme hsct``).

The one parser of fold names: the workflow's rules (``workflow/rules/common.smk``) and the
package both use :class:`Fold`.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Site identifiers, as the site sheet allows them (and wildcards match them).
SITE_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_-]*"
#: Fold names: ``within``, ``all`` or ``loso-<site>``.
FOLD_PATTERN = rf"within|all|loso-{SITE_PATTERN}"
DESIGNS = ("loso", "within")


@dataclass(frozen=True)
class Fold:
    """One fold: its name, its design (``loso`` or ``within``) and the held-out site (loso)."""

    name: str
    design: str
    held_out: str | None = None

    @classmethod
    def parse(cls, name: str) -> "Fold":
        """``within``, ``all`` or ``loso-<site>``; anything else raises ValueError."""
        if name in ("within", "all"):
            return cls(name, name)
        if name.startswith("loso-") and len(name) > len("loso-"):
            return cls(name, "loso", name[len("loso-") :])
        raise ValueError(f"unknown fold {name!r}: expected 'within' or 'loso-<site>'")

    @classmethod
    def loso(cls, site: str) -> "Fold":
        return cls(f"loso-{site}", "loso", site)

    @property
    def train_subset(self) -> str:
        """The patients each training site trains on: all, or its training split."""
        return "train" if self.design == "within" else "all"

    @property
    def test_subset(self) -> str:
        """The patients a test site evaluates: all (loso), or its test split (within)."""
        return "test" if self.design == "within" else "all"

    def _check(self, sites: list[str]) -> None:
        if self.held_out is not None and self.held_out not in sites:
            raise ValueError(f"fold {self.name}: {self.held_out!r} is not one of the sites {sites}")

    def train_sites(self, sites: list[str]) -> list[str]:
        """Sites whose patients train the fold: all but the held-out one, or all."""
        self._check(sites)
        return [s for s in sites if s != self.held_out]

    def test_sites(self, sites: list[str]) -> list[str]:
        """Sites that evaluate the fold: the held-out one, every site (within), or none (all)."""
        self._check(sites)
        if self.design == "all":
            return []
        return list(sites) if self.held_out is None else [self.held_out]


def fold_names(designs: list[str], held_out_sites: list[str]) -> list[str]:
    """The folds of a study: one per held-out site (``loso`` in designs), then ``within``."""
    unknown = set(designs) - set(DESIGNS)
    if unknown:
        raise ValueError(f"unknown designs {sorted(unknown)}; choose from {DESIGNS}")
    names = [Fold.loso(s).name for s in held_out_sites] if "loso" in designs else []
    return names + (["within"] if "within" in designs else [])
