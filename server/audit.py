"""The audit seam: every governance action is recorded here, in the caller's transaction.

Callers must already be inside ``db.atomic()``; the record commits or rolls back with the
change it describes. Details hold references (ids, hashes), never personal data in clear.
"""

from __future__ import annotations

import json

from server.db import db
from server.models import AuditRecord


class AuditOutsideTransaction(RuntimeError):
    """An audit record was written outside the transaction of the change it records."""


def record_action(
    actor: str, action: str, subject: str, reason: str | None = None, details: dict | None = None
) -> AuditRecord:
    """Record that ``actor`` did ``action`` to ``subject`` (for ``reason``)."""
    if not db.in_transaction():
        raise AuditOutsideTransaction(f"{action} on {subject} must be recorded inside db.atomic()")
    return AuditRecord.create(
        actor=actor,
        action=action,
        subject=subject,
        reason=reason,
        details=json.dumps(details or {}, sort_keys=True, separators=(",", ":")),
    )
