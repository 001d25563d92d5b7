"""The audit log's entry format (version 1): what every governance action records.

An entry is the RFC 8785 canonical JSON of::

    {"v": 1, "action": "request.approved", "actor": "user:3", "subject": "request:42",
     "time": "2026-11-25T21:15:21Z", "details": {...}, "note": {"id": 7, "sha256": "…"}}

It holds references and hashes, never personal data in clear: ``actor`` and ``subject`` are
``kind:id`` references to rows that can be erased; a free-text reason lives in a deletable
note row and the entry keeps only ``SHA-256(salt || text)``, with the salt in that row, so
erasing the row leaves nothing to guess from.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from shared.canonical import canonical_json, load_canonical

ENTRY_VERSION = 1
_FIELDS = {"v", "action", "actor", "subject", "time", "details", "note"}


def note_digest(salt: bytes, text: str) -> str:
    """Return the salted digest of a note's text, as the entry records it."""
    return hashlib.sha256(salt + text.encode("utf-8")).hexdigest()


def build_entry(action: str, actor: str, subject: str, time: dt.datetime,
                details: dict[str, Any] | None = None,
                note: tuple[int, str] | None = None) -> bytes:
    """Return the canonical bytes of one entry; ``note`` is ``(id, sha256 hex)``."""
    if time.tzinfo is None:
        time = time.replace(tzinfo=dt.UTC)
    entry: dict[str, Any] = {
        "v": ENTRY_VERSION,
        "action": action,
        "actor": actor,
        "subject": subject,
        "time": time.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "details": details or {},
    }
    if note is not None:
        entry["note"] = {"id": note[0], "sha256": note[1]}
    return canonical_json(entry)


def parse_entry(data: bytes) -> dict[str, Any]:
    """Parse stored entry bytes, refusing anything that is not a canonical version-1 entry."""
    entry = load_canonical(data)
    if not isinstance(entry, dict) or entry.get("v") != ENTRY_VERSION:
        raise ValueError("not a version 1 audit entry")
    missing = {"action", "actor", "subject", "time", "details"} - set(entry)
    if missing or set(entry) - _FIELDS:
        raise ValueError(f"audit entry fields are wrong: missing {sorted(missing)}")
    return entry
