"""Randomness applied to a site's patients, from a secret only that site holds.

Every draw over patients (release noise, DP-SGD noise and Poisson batches, bootstrap
weights, the within-site split) is seeded by ``HMAC-SHA256(site key, identity)``:

* the site key: 32 random bytes from the operating system, created inside the site's own
  job on first use and kept in the site's private folder (``secret.key``, owner-only
  permissions); it is never written anywhere else and never crosses sites;
* the identity: everything that tells one draw from another (endpoint, fold, strategy,
  epsilon, seed, round, purpose, ...) and a fingerprint of the patient rows it applies to
  (:func:`data_digest`): rerun on changed data (a patient added, corrected or withdrawn),
  a release draws fresh noise instead of repeating the draw, whose difference between the
  two releases would describe the patient.

So nobody without the key can regenerate a draw (the config's seeds are public), no two
runs share a draw (their identities differ), and the site reruns byte for byte as long as
it keeps its key. With ``privacy.randomness: os`` every draw is seeded from the operating
system's cryptographic source instead and DP-SGD noise uses Opacus' ``secure_mode``: for
deployments that want no reproducibility.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

#: The key's file name inside a site's private folder.
KEY_FILE = "secret.key"
KEY_BYTES = 32
#: ``privacy.randomness`` in config.
MODES = ("site_key", "os")


def site_key(private_dir: str | Path) -> bytes:
    """The site's secret key, created on first use (race-safe between concurrent jobs).

    The key is written to a temporary file with mode 0600 and linked into place, so a job
    never reads a half-written key and the first writer wins.
    """
    folder = Path(private_dir)
    path = folder / KEY_FILE
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(secrets.token_bytes(KEY_BYTES))
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass  # another job of the site created it first: use that one
        finally:
            tmp.unlink(missing_ok=True)
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise ValueError(f"{path}: a site key has {KEY_BYTES} bytes, this file {len(key)}")
    return key


def data_digest(frame: pd.DataFrame) -> str:
    """A fingerprint (16 hex digits) of patient rows, their columns and values: part of
    the identity of every draw applied to them and of every charge to the site's budget."""
    rows = pd.util.hash_pandas_object(frame, index=True).to_numpy()
    return hashlib.sha256(rows.tobytes() + "\x1f".join(map(str, frame.columns)).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class SiteRandomness:
    """The draws of one site within one identity (a run, a release, an evaluation).

    Attributes:
        key: the site's secret key; None draws from the operating system (not reproducible).
        identity: what the draws belong to, as strings (e.g. endpoint, fold, run).
    """

    key: bytes | None
    identity: tuple[str, ...] = ()

    @property
    def secure(self) -> bool:
        """True when draws come from the operating system's cryptographic source."""
        return self.key is None

    def child(self, *parts) -> "SiteRandomness":
        """The same key with a longer identity."""
        return SiteRandomness(self.key, self.identity + tuple(map(str, parts)))

    def seed(self, *parts, bits: int = 128) -> int:
        """A ``bits``-bit seed for the draw ``identity + parts``."""
        if self.key is None:
            return secrets.randbits(bits)
        message = "\x1f".join(self.identity + tuple(map(str, parts))).encode()
        digest = hmac.new(self.key, message, hashlib.sha256).digest()
        return int.from_bytes(digest, "big") >> (256 - bits)

    def numpy(self, *parts) -> np.random.Generator:
        """A numpy generator for the draw ``identity + parts``."""
        return np.random.default_rng(self.seed(*parts))

    def torch(self, *parts, device=None):
        """A torch generator for the draw ``identity + parts`` (63-bit seed)."""
        import torch

        generator = torch.Generator(device=device) if device is not None else torch.Generator()
        return generator.manual_seed(self.seed(*parts, bits=63))


def site_randomness(private_dir: str | Path, mode: str, *identity) -> SiteRandomness:
    """The randomness of the site whose private folder is ``private_dir``.

    Args:
        mode: ``site_key`` (keyed, reproducible by the site only) or ``os``.
    """
    if mode not in MODES:
        raise ValueError(f"privacy.randomness must be one of {MODES}, got {mode!r}")
    key = site_key(private_dir) if mode == "site_key" else None
    return SiteRandomness(key, tuple(map(str, identity)))


def joint_randomness(parts: list[SiteRandomness], *identity) -> SiteRandomness:
    """Randomness of a pooled baseline (several sites' patients as one, research mode
    only): keyed by all member keys together, so no single party can regenerate it."""
    if any(p.key is None for p in parts):
        return SiteRandomness(None, tuple(map(str, identity)))
    key = hashlib.sha256(b"".join(p.key for p in parts)).digest()
    return SiteRandomness(key, tuple(map(str, identity)))
