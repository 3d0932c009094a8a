"""File helpers: atomic writes, so a failed job never leaves a half-written output behind."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Iterator

import pandas as pd


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | Path, *, durable: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds.

    Args:
        durable: also flush the file and its folder to disk (``fsync``) before returning:
            a power loss cannot roll the file back to an older version.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600; give the output the permissions of a normal file (umask)
        os.chmod(tmp_path, 0o666 & ~_umask())
        if durable:
            with open(tmp_path, "rb") as handle:
                os.fsync(handle.fileno())
        os.replace(tmp_path, path)
        if durable:
            folder = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_text(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding=encoding)


def write_json(path: str | Path, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n")


def read_json(path: str | Path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_parquet(path: str | Path, frame: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)


def read_run_table(path: str | Path) -> pd.DataFrame:
    """A released TSV (metrics, calibration groups, life tables) with epsilon and seed kept
    as labels ('inf', '3', '1'), not numbers."""
    return pd.read_csv(path, sep="\t", dtype={"epsilon": "string", "seed": "string"}, keep_default_na=True)


def write_tsv(path: str | Path, frame: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, sep="\t", index=False, na_rep="NA", lineterminator="\n")
