"""The audit seam: every governance action is recorded here, in the caller's transaction.

Each call appends one entry to the signed, tamper-evident log (``server.auditlog``; in a
server process, through the sequencer's queue). Callers
must already be inside ``db.atomic()``, so the entry commits or rolls back with the change it
describes. ``details`` hold references (ids, hashes), never personal data in clear; a
``reason`` goes to a deletable note and the entry keeps only its salted hash.
"""

from __future__ import annotations

from server import auditlog

AuditOutsideTransaction = auditlog.LogOutsideTransaction


def record_action(actor: str, action: str, subject: str, reason: str | None = None,
                  details: dict | None = None, sequenced: bool = False) -> int | None:
    """Record that ``actor`` did ``action`` to ``subject`` (for ``reason``).

    Return the entry's index, or None if it was queued for the sequencer; ``sequenced=True``
    puts it in the log at once (taking the log's lock) for callers that need the index.
    """
    return auditlog.append(action, actor, subject, reason, details, sequenced=sequenced)
