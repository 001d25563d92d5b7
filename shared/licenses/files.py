"""Reading files of an untrusted checkout: bounded, binary-aware, tolerant of any encoding."""

from __future__ import annotations

import codecs
import os
import re

LICENSE_FILE_BYTES = 512 * 1024  # the longest common license texts are ~40 KB
MANIFEST_BYTES = 1024 * 1024
HEADER_BYTES = 4096
HEADER_LINES = 30
SNIFF_BYTES = 8192

_LICENSE_NAME = re.compile(
    r"^(?:licen[cs]e|copying|unlicen[cs]e|notice)(?:[-_. ].*)?$"
    r"|^[\w.+-]+[-_.]licen[cs]e(?:\.(?:txt|md|markdown|rst))?$",
    re.IGNORECASE,
)
_NOT_LICENSE_TEXT = re.compile(
    r"\.(?:py|pyc|js|mjs|ts|tsx|jsx|go|rs|java|kt|c|h|cc|cpp|hpp|cs|rb|php|pl|sh|json|ya?ml"
    r"|toml|xml|html?|css|scss|svg|png|jpe?g|gif|ico|gz|zip|bz2|xz|pdf|class|jar|o|so|a)$",
    re.IGNORECASE,
)
_README_NAME = re.compile(r"^readme(?:\.(?:md|markdown|rst|txt))?$", re.IGNORECASE)
_BINARY_SUFFIX = re.compile(
    r"\.(?:png|jpe?g|gif|bmp|ico|webp|pdf|zip|gz|tgz|bz2|xz|zst|7z|rar|jar|war|whl|egg|class"
    r"|o|a|so|dylib|dll|exe|bin|pyc|pyo|woff2?|ttf|otf|eot|mp[34]|mov|avi|wav|flac|ogg"
    r"|sqlite3?|db|parquet|npy|npz|pt|onnx|h5|pkl|iso|dmg)$",
    re.IGNORECASE,
)


def is_license_file(name: str) -> bool:
    """LICENSE, LICENCE.md, COPYING.LESSER, LICENSE-MIT, MIT-LICENSE, NOTICE, UNLICENSE, ..."""
    return bool(_LICENSE_NAME.match(name)) and not _NOT_LICENSE_TEXT.search(name)


def is_readme(name: str) -> bool:
    return bool(_README_NAME.match(name))


def is_notice_file(name: str) -> bool:
    """NOTICE files carry attributions; they count only when they name a license."""
    return name.upper().startswith("NOTICE")


def likely_binary_name(name: str) -> bool:
    return bool(_BINARY_SUFFIX.search(name))


def read_prefix(path: str, limit: int) -> bytes | None:
    """Read at most ``limit`` bytes of a regular file, never following a symlink."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as handle:
            return handle.read(limit)
    except OSError:
        return None


def is_binary(data: bytes) -> bool:
    """NUL bytes in the first 8 KB mean binary, unless a UTF-16/32 byte-order mark says text."""
    head = data[:SNIFF_BYTES]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    return b"\x00" in head


def decode(data: bytes) -> str:
    """Decode bytes of unknown encoding: UTF-8 (or a BOM's), else Latin-1 for legacy files.

    A prefix cut in the middle of a UTF-8 sequence is still UTF-8; text with a few stray bytes
    keeps UTF-8 with replacement characters; anything else is read as Latin-1 (cp1252-ish
    files stay legible and every byte maps to a character).
    """
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(data) - 3 and exc.reason == "unexpected end of data":
            return data[: exc.start].decode("utf-8", errors="replace")
    replaced = data.decode("utf-8", errors="replace")
    if replaced.count("\ufffd") <= max(1, len(data) // 1000):
        return replaced
    return data.decode("latin-1")


def read_text(path: str, limit: int) -> str | None:
    """A text file's first ``limit`` bytes, decoded; None for unreadable or binary files."""
    data = read_prefix(path, limit)
    if data is None or is_binary(data):
        return None
    return decode(data)


_SPDX_ID = re.compile(r"SPDX-License-Identifier\s*:\s*(.+)")
_COMMENT_END = re.compile(r"\s*(?:\*/|-->|--%>|#\}|\"\"\"|'''|\*\)|-\}|\]\]).*$")


def spdx_identifiers(text: str, max_lines: int = HEADER_LINES) -> list[tuple[int, str]]:
    """``SPDX-License-Identifier:`` values in a file's first lines, with 1-based line numbers."""
    found = []
    for number, line in enumerate(text.split("\n", max_lines)[:max_lines], start=1):
        match = _SPDX_ID.search(line)
        if match:
            value = _COMMENT_END.sub("", match.group(1)).strip().strip("\"'`;,")
            if value:
                found.append((number, value))
    return found
