"""Identity of contents and directories: git blob hashes and Software Heritage SWHIDs.

A content SWHID *is* the git blob hash: ``swh:1:cnt:<sha1("blob <len>\\0" + data)>``, and a
directory SWHID is the git tree hash of the directory (``swh:1:dir:<tree sha1>``). Contents
are hashed here with plain ``hashlib`` (FIELD-NOTES measured it ~15x faster than going
through ``swh.model``); directories of a git checkout take git's own tree id, and plain
directories go through ``swh.model.from_disk``, which knows the archive's rules for modes,
symlinks and empty directories. Tests check both against ``git hash-object`` and git trees.
"""

from __future__ import annotations

import hashlib
import os
import re

_HEX40 = re.compile(r"[0-9a-f]{40}")
_SWHID = re.compile(r"swh:1:(cnt|dir|rev|rel|snp):([0-9a-f]{40})")


def blob_sha1(data: bytes) -> str:
    """The git blob hash of ``data`` (what ``git hash-object`` prints)."""
    digest = hashlib.sha1(b"blob %d\x00" % len(data), usedforsecurity=False)
    digest.update(data)
    return digest.hexdigest()


def content_swhid(sha1_git: str) -> str:
    return "swh:1:cnt:" + sha1_git


def directory_swhid(tree_sha1: str) -> str:
    return "swh:1:dir:" + tree_sha1


def parse_swhid(value: str, kind: str = "cnt") -> str:
    """Return the 40-hex object id of a SWHID of ``kind``, or of a bare 40-hex id.

    Raises:
        ValueError: anything else, or a SWHID of another kind.
    """
    text = value.strip().lower()
    if _HEX40.fullmatch(text):
        return text
    match = _SWHID.fullmatch(text.split(";", 1)[0])  # qualifiers (;origin=...) are dropped
    if match is None or match.group(1) != kind:
        raise ValueError(f"{value!r} is not a swh:1:{kind}: SWHID nor a git object id")
    return match.group(2)


def plain_directory_swhid(path: str | os.PathLike) -> str:
    """The directory SWHID of a directory on disk (not a git checkout), via ``swh.model``."""
    from swh.model.from_disk import Directory

    directory = Directory.from_disk(path=os.fsencode(os.fspath(path)), max_content_length=None)
    return str(directory.swhid())
