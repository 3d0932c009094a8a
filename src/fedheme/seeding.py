"""Seeds derived from names, stable across processes and Python versions (no hash())."""

from __future__ import annotations

import zlib


def derived_seed(*parts) -> int:
    """A 63-bit seed from any parts (stable across processes and Python versions)."""
    return zlib.crc32("/".join(map(str, parts)).encode()) * 2654435761 % (2**63)
