"""Read the audit log in tests: each entry parsed, with its note's text where it still exists."""

from __future__ import annotations

from types import SimpleNamespace

from server.models import AuditNote, LogEntry
from shared.audit_entry import parse_entry


def audit_records() -> list[SimpleNamespace]:
    """Every entry in log order, as ``index, action, actor, subject, details, reason``."""
    notes = {n.id: n.text for n in AuditNote.select()}
    records = []
    for row in LogEntry.select().order_by(LogEntry.index):
        entry = parse_entry(bytes(row.entry))
        note = entry.get("note")
        records.append(SimpleNamespace(
            index=row.index, action=entry["action"], actor=entry["actor"],
            subject=entry["subject"], details=entry["details"], time=entry["time"],
            reason=notes.get(note["id"]) if note else None, raw=bytes(row.entry)))
    return records


def audit_count() -> int:
    return LogEntry.select().count()
