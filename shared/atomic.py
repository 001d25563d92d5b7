"""Files replaced whole or not at all: written beside the target, synced, then renamed.

A reader (or a crash) sees the old file or the new one, never a torn one, and a failure leaves
no temporary file behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: Path, mode_from: Path | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target``.

    Whatever the block writes to the path is synced to disk before the rename. With
    ``mode_from`` the new file takes that file's permission bits.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Ending with the target's name, the temporary keeps its extension (.gz, .parquet) for
    # writers that choose a format from it.
    fd, name = tempfile.mkstemp(prefix=".tmp-", suffix=f"-{target.name}", dir=target.parent)
    os.close(fd)
    temporary = Path(name)
    try:
        yield temporary
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        if mode_from is not None:
            shutil.copymode(mode_from, temporary)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_atomic(target: Path, data: bytes, mode_from: Path | None = None) -> None:
    """Replace ``target`` with ``data`` atomically (see ``atomic_path``)."""
    with atomic_path(target, mode_from) as temporary:
        temporary.write_bytes(data)
