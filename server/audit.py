"""The audit seam: every governance action is recorded here, in the caller's transaction.

Each call appends one entry to the signed, tamper-evident log (``server.auditlog``). Callers
must already be inside ``db.atomic()``, so the entry commits or rolls back with the change it
describes. ``details`` hold references (ids, hashes), never personal data in clear; a
``reason`` goes to a deletable note and the entry keeps only its salted hash.
"""

from __future__ import annotations

from server import auditlog

AuditOutsideTransaction = auditlog.LogOutsideTransaction


def record_action(actor: str, action: str, subject: str, reason: str | None = None,
                  details: dict | None = None) -> int:
    """Record that ``actor`` did ``action`` to ``subject`` (for ``reason``); return the index."""
    return auditlog.append(action, actor, subject, reason, details)
