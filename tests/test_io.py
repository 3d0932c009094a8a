"""Atomic writes: a failed block leaves nothing, a finished one a normally readable file."""

from __future__ import annotations

import os
import stat

import pytest

from fedheme.io import atomic_path, write_text


def test_a_written_file_has_the_permissions_of_the_umask(tmp_path):
    mask = os.umask(0o022)
    try:
        write_text(tmp_path / "table.tsv", "a\n")
    finally:
        os.umask(mask)
    assert stat.S_IMODE((tmp_path / "table.tsv").stat().st_mode) == 0o644


def test_a_failed_write_leaves_nothing_behind(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "out.tsv") as tmp:
            tmp.write_text("half")
            raise RuntimeError("job failed")
    assert list(tmp_path.iterdir()) == []
