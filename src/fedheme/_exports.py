"""Lazy re-exports for the sub-packages' ``__init__`` (PEP 562).

A sub-package lists its public names and the module each lives in; a name is imported on
first use, so ``import fedheme.models.timebins`` does not pull in torch through
``fedheme.models``, and a release job that needs numpy only stays fast.
"""

from __future__ import annotations

import importlib
from typing import Callable


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` of a package whose public name ``n`` lives in the
    sub-module ``exports[n]`` (a module name relative to ``package``, or ``""`` for a
    sub-module exported by its own name)."""

    def __getattr__(name: str) -> object:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(f"{package}.{exports[name] or name}")
        return module if not exports[name] else getattr(module, name)

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__
