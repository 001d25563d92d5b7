"""The proposals of the free-text intake as table rows, and the scope a reviewer would submit.

A row starts as the server's proposal (each field with its value, supporting span, confidence
and source) and keeps the reviewer's edits beside it: ``fields`` holds what will be submitted,
``proposed`` what the server read. A field the message does not give is absent from both, and
shown as such, never filled in.
"""

from __future__ import annotations

import copy
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont

from desktop.models import Column, Index, RecordsModel
from shared.scope import FIELDS_BY_KIND, ScopeError, build_scope

FIELD_KEYS = ("host", "owner", "name", "path", "line")
FIELD_LABELS = {"host": "Host", "owner": "Owner", "name": "Repository", "path": "Path",
                "line": "Line"}  # fmt: skip
NOT_SAID = "the text does not say"


def proposal_row(number: int, proposal: dict) -> dict:
    """A table row for one proposal of ``POST /intake``."""
    fields = {k: dict(v) for k, v in proposal["fields"].items() if k in FIELD_KEYS}
    return {
        "number": number,
        "kind": proposal["kind"],
        "fields": fields,
        "proposed": copy.deepcopy(fields),
        "extras": {k: v for k, v in proposal["fields"].items() if k not in FIELD_KEYS},
        "missing": list(proposal["missing"]),
        "exceptions": list(proposal["exceptions"]),
        "notes": list(proposal["notes"]),
        "confidence": proposal["confidence"],
        "edited": set(),
        "submitted": None,  # the request id, once submitted
    }


def value_of(row: dict, key: str) -> Any:
    entry = row["fields"].get(key)
    return None if entry is None else entry["value"]


def scope_of(row: dict):
    """The scope the row's current fields describe (``shared.scope.Scope``).

    Raises:
        ScopeError: a field is missing or malformed, or no kind is chosen.
    """
    kind = row["kind"]
    if kind not in FIELDS_BY_KIND:
        raise ScopeError("kind", "missing_field", f"the request needs a kind ({NOT_SAID})")
    required, optional = FIELDS_BY_KIND[kind]
    values = {k: value_of(row, k) for k in required | optional if k in FIELD_KEYS}
    if isinstance(values.get("line"), str):
        text = values["line"].strip()
        if not text.isdigit():
            raise ScopeError("line", "invalid_line", "line must be a positive integer")
        values["line"] = int(text)
    return build_scope(kind, values)


def request_body(scope) -> dict:
    """The exact body of ``POST /api/v1/requests`` for a scope."""
    body = {"kind": scope.kind, "host": scope.host, "owner": scope.owner}
    for key in ("name", "path", "line"):
        if getattr(scope, key) is not None:
            body[key] = getattr(scope, key)
    return body


def status_of(row: dict) -> str:
    """Why a row can or cannot be submitted, in a few words."""
    if row["submitted"] is not None:
        return f"submitted as #{row['submitted']}"
    if row["exceptions"] and not row["edited"]:
        return f"held back: the message keeps “{row['exceptions'][0]['text']}”"
    unanswered = [k for k in row["missing"] if k not in row["edited"]]
    if unanswered and "kind" not in row["edited"]:
        key = unanswered[0]
        return f"incomplete: {NOT_SAID} which {FIELD_LABELS.get(key, key).lower()}"
    try:
        scope_of(row)
    except ScopeError as error:
        return f"incomplete: {error.message}"
    return "edited, ready to submit" if row["edited"] else "ready to submit"


def can_submit(row: dict) -> bool:
    return status_of(row).endswith("ready to submit")


def _field_text(row: dict, key: str) -> str:
    entry = row["fields"].get(key)
    if entry is None:
        return NOT_SAID + (" (needed)" if key in row["missing"] else "")
    if key in row["edited"]:
        return f"{entry['value']} · edited"
    return f"{entry['value']} · {entry['confidence']:.0%}"


def _field_tip(row: dict, key: str) -> str:
    entry = row["fields"].get(key)
    if entry is None:
        return f"The message does not say the {FIELD_LABELS[key].lower()}."
    if key in row["edited"]:
        return "Typed by you."
    said = f"“{entry['text']}”" if entry["text"] else "(no words of the message)"
    return f"{entry['source']}, confidence {entry['confidence']:.2f}: {said}"


def _field_column(key: str, width: int) -> Column:
    return Column(FIELD_LABELS[key], lambda r: _field_text(r, key), None, width)


PROPOSAL_COLUMNS = (
    Column("#", lambda r: r["number"], None, 34),
    Column("Kind", lambda r: r["kind"] or NOT_SAID, None, 80),
    _field_column("host", 120),
    _field_column("owner", 120),
    _field_column("name", 130),
    _field_column("path", 120),
    Column("Confidence", lambda r: f"{r['confidence']:.0%}", None, 75),
    Column("Status", status_of, None, 0),
)
COLUMN_FIELDS = (None, "kind", "host", "owner", "name", "path", None, None)  # per column
FIELD_COLUMNS = {key: n for n, key in enumerate(COLUMN_FIELDS) if key is not None}
_GREY = QColor("#777777")


class ProposalsModel(RecordsModel):
    """The proposed requests; abstentions are greyed and in italics."""

    def __init__(self, parent=None):
        super().__init__(PROPOSAL_COLUMNS, parent=parent)
        self._italic = QFont()
        self._italic.setItalic(True)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role in (Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.FontRole):
            if not (index.isValid() and self._abstains(index)):
                return None
            return _GREY if role == Qt.ItemDataRole.ForegroundRole else self._italic
        if role == Qt.ItemDataRole.ToolTipRole and index.isValid():
            key = COLUMN_FIELDS[index.column()]
            if key in FIELD_KEYS and 0 <= index.row() < len(self.rows):
                return _field_tip(self.rows[index.row()], key)
        return super().data(index, role)

    def _abstains(self, index: Index) -> bool:
        if not 0 <= index.row() < len(self.rows):
            return False
        row, key = self.rows[index.row()], COLUMN_FIELDS[index.column()]
        if key == "kind":
            return row["kind"] is None
        return key is not None and key not in row["fields"]

    def set_field(self, position: int, key: str, text: str) -> None:
        """The reviewer typed ``text`` for ``key`` (empty: the field is cleared)."""
        row = self.rows[position]
        text = text.strip()
        if text:
            row["fields"][key] = {"value": text, "text": "", "start": None, "end": None,
                                  "confidence": None, "source": "reviewer"}  # fmt: skip
        else:
            row["fields"].pop(key, None)
        row["edited"].add(key)
        self.replace_row(position, row)

    def set_kind(self, position: int, kind: str | None) -> None:
        row = self.rows[position]
        row["kind"] = kind
        row["edited"].add("kind")
        self.replace_row(position, row)

    def mark_submitted(self, position: int, request_id: int) -> None:
        row = self.rows[position]
        row["submitted"] = request_id
        self.replace_row(position, row)
