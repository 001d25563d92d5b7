"""The detail pane of the queue: a request's scope, history, evidence and coverage, and the
actions a reviewer may take on it.

An action that the state machine gives a reason for asks for one first. If another reviewer
changed the request in the meantime (412), the pane reloads it, says what changed, and keeps
the reason that was typed.
"""

from __future__ import annotations

import datetime as dt
import html

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from desktop.context import AppContext
from desktop.widgets import ReasonEdit
from shared import states
from shared.client import ApiClientError, OptoutClient

# The actions of the keyboard triage: (target state, button label, shortcut key).
ACTIONS = (
    (states.VERIFIED, "Verify", "V"),
    (states.APPROVED, "Approve", "A"),
    (states.REJECTED, "Reject", "R"),
    (states.NEEDS_INFO, "Needs info", "I"),
    (states.CONFIRMED, "Info provided", ""),
    (states.REVERTED, "Revert", ""),
)


def load_request(client: OptoutClient, request_id: int) -> dict:
    """Everything the pane shows about one request (runs in a worker thread)."""
    versioned = client.get_request(request_id)
    data = {"request": versioned.data, "etag": versioned.etag}
    data["evidence"] = client.evidence(request_id)
    data["coverage"] = client.request_coverage(request_id)
    if versioned.data["kind"] == "file":
        data["pii"] = client.request_pii_findings(request_id)
    return data


def changes_between(old: dict, new: dict) -> list[str]:
    """What another reviewer changed: the state, and the history entries added since."""
    lines = []
    if old["state"] != new["state"]:
        lines.append(f"state: {old['state']} → {new['state']}")
    for event in new.get("history", [])[len(old.get("history", [])):]:
        reason = f" — “{event['reason']}”" if event.get("reason") else ""
        lines.append(f"{event['actor']} moved it {event['from_state']} → {event['to_state']}"
                     f"{reason}")  # fmt: skip
    if not lines and old.get("version") != new.get("version"):
        lines.append(f"version {old.get('version')} → {new.get('version')}")
    return lines


def _e(value) -> str:
    return html.escape("" if value is None else str(value))


def _table(rows: list[tuple], header: tuple) -> str:
    head = "".join(f"<th align=left>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table cellspacing=0 cellpadding=3 border=1><tr>{head}</tr>{body}</table>"


class RequestPanel(QWidget):
    """One request and its actions.

    Signals:
        changed(dict): the request's new version, after an action or a reload.
    """

    changed = Signal(dict)

    def __init__(self, ctx: AppContext, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.data: dict | None = None
        self.etag = ""
        self.pending: str | None = None  # the action waiting for its reason
        self._loading_id: int | None = None
        self.title = QLabel("Select a request")
        self.title.setWordWrap(True)
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("background:#fff4ce;border:1px solid #e0c060;padding:6px;")
        self.notice.hide()
        self.tabs = QTabWidget()
        self.summary, self.evidence, self.coverage = QTextBrowser(), QTextBrowser(), QTextBrowser()
        self.tabs.addTab(self.summary, "Scope && history")
        self.tabs.addTab(self.evidence, "Evidence")
        self.tabs.addTab(self.coverage, "Catalog")
        self.reason = ReasonEdit()
        self.hint = QLabel()
        self.buttons: dict[str, QPushButton] = {}
        row = QHBoxLayout()
        for target, label, key in ACTIONS:
            button = QPushButton(f"{label} ({key})" if key else label)
            button.clicked.connect(lambda _=False, t=target: self.act(t))
            self.buttons[target] = button
            row.addWidget(button)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        for widget in (self.title, self.notice, self.tabs, self.reason, self.hint):
            layout.addWidget(widget)
        layout.addLayout(row)
        layout.setStretch(2, 1)
        self.reason.submitted.connect(self._submit_pending)
        self._show_buttons()

    # -- loading ---------------------------------------------------------------------------

    def load(self, request_id: int, keep_notice: bool = False) -> None:
        self._loading_id = request_id
        if not keep_notice:
            self.notice.hide()
        self.ctx.call(f"Loading request {request_id}",
                      lambda c: load_request(c, request_id), self._loaded)  # fmt: skip

    def _loaded(self, bundle: dict) -> None:
        if bundle["request"]["id"] != self._loading_id:
            return  # the reviewer moved on to another request meanwhile
        if self.data is None or self.data["id"] != bundle["request"]["id"]:
            self.pending = None
            self.hint.clear()
        self.data, self.etag = bundle["request"], bundle["etag"]
        self._render(bundle)
        self._show_buttons()
        self.changed.emit(self.data)

    def clear(self) -> None:
        self.data, self._loading_id = None, None
        self.title.setText("Select a request")
        for view in (self.summary, self.evidence, self.coverage):
            view.clear()
        self._show_buttons()

    def _render(self, bundle: dict) -> None:
        req = bundle["request"]
        self.title.setText(f"<b>#{req['id']}</b> · {_e(req['kind'])} · state "
                           f"<b>{_e(req['state'])}</b><br>{_e(req['scope'])}")  # fmt: skip
        history = [(e["at"][:19].replace("T", " "), e["from_state"] or "", e["to_state"],
                    e["actor"], e["reason"] or "") for e in req.get("history", [])]  # fmt: skip
        notes = f"<p><b>Owner's notes</b><br>{_e(req['notes'])}</p>" if req.get("notes") else ""
        extra = ""
        if req.get("license_verdict"):
            v = req["license_verdict"]
            extra = (f"<p><b>Disputed verdict</b>: {_e(v['expression'])} → {_e(v['verdict'])} "
                     f"({_e(v['source'])})</p>")  # fmt: skip
        if bundle.get("pii"):
            items = bundle["pii"]["items"]
            extra += "<p><b>Findings in this file</b></p>" + _table(
                [(f["id"], f["kind"], f["tier"], f["line"], f["masked"],
                  (f["decision"] or {}).get("decision", "undecided")) for f in items],
                ("#", "kind", "tier", "line", "value (masked)", "decision"))  # fmt: skip
        self.summary.setHtml(
            f"<p><b>Scope</b>: {_e(req['scope'])}</p>{notes}{extra}<p><b>History</b></p>"
            + _table(history, ("when", "from", "to", "actor", "reason"))
        )
        self.evidence.setHtml(self._evidence_html(bundle["evidence"]))
        self.coverage.setHtml(self._coverage_html(bundle["coverage"]))

    @staticmethod
    def _evidence_html(evidence: dict) -> str:
        proofs = evidence.get("evidence", [])
        parts = [f"<p><b>Proofs of authority</b>: {len(proofs) or 'none yet'}</p>"]
        parts.append(_table([(e["method"], e.get("account") or "", e.get("detail") or "",
                              e["actor"], (e["created_at"] or "")[:19]) for e in proofs],
                            ("method", "account", "detail", "by", "when")))  # fmt: skip
        challenges = evidence.get("challenges", [])
        if challenges:
            parts.append("<p><b>Challenges</b></p>" + _table(
                [(c.get("account") or "", c["path"], "verified" if c.get("verified_at") else
                  ("expired" if c.get("expired") else "waiting"), c.get("verified_url") or "")
                 for c in challenges], ("account", "path", "status", "found at")))  # fmt: skip
        emails = evidence.get("email_proofs", [])
        if emails:
            parts.append("<p><b>E-mailed links</b></p>" + _table(
                [(m["address"], "confirmed" if m.get("verified_at") else "waiting")
                 for m in emails], ("address", "status")))  # fmt: skip
        return "".join(parts)

    @staticmethod
    def _coverage_html(coverage: dict) -> str:
        releases = coverage.get("releases", [])
        if not releases:
            return "<p>No loaded dataset release includes this scope.</p>"
        rows = [(r["name"], r["repository_count"], r["files"],
                 ", ".join(x["name"] for x in r["repositories"][:20])
                 + (" …" if r["truncated"] or len(r["repositories"]) > 20 else ""))
                for r in releases]  # fmt: skip
        others = coverage.get("requests", [])
        text = _table(rows, ("release", "repositories", "files", "names"))
        if others:
            text += "<p><b>Requests covering it</b></p>" + _table(
                [(r["id"], r["kind"], r["state"], r["scope"]) for r in others],
                ("#", "kind", "state", "scope"))  # fmt: skip
        return text

    # -- actions ---------------------------------------------------------------------------

    def _show_buttons(self) -> None:
        allowed = set(self.data["allowed_transitions"]) if self.data else set()
        for target, button in self.buttons.items():
            button.setVisible(target in allowed)

    def act(self, target: str) -> None:
        """Take the transition to ``target``; ask for the reason first if one is needed."""
        if self.data is None:
            return
        step = states.transition_for(self.data["state"], target)
        if step is None or target not in self.data["allowed_transitions"]:
            self.hint.setText(f"A {self.data['state']} request cannot go to {target}.")
            return
        reason = self.reason.reason()
        if step.reason_required and not reason:
            self.pending = target
            self.hint.setText(f"Moving to {target} needs a reason: type it, then Ctrl+Enter.")
            self.reason.setFocus()
            return
        self.pending = None
        self.hint.setText(f"Moving #{self.data['id']} to {target}…")
        request_id, etag, old = self.data["id"], self.etag, self.data
        self.ctx.call(
            f"Moving request {request_id} to {target}",
            lambda c: c.transition(request_id, target, etag, reason or None),
            self._acted,
            lambda error: self._act_failed(error, old, target),
            retry=False,
        )

    def _submit_pending(self) -> None:
        if self.pending:
            self.act(self.pending)

    def _acted(self, versioned) -> None:
        self.reason.clear()
        self.hint.setText(f"#{versioned.data['id']} is now {versioned.data['state']}.")
        self.notice.hide()
        self.load(versioned.data["id"])

    def _act_failed(self, error: Exception, old: dict, target: str) -> bool:
        if isinstance(error, ApiClientError) and error.status == 412:
            self.pending = target
            self.ctx.call(f"Reloading request {old['id']}",
                          lambda c: c.get_request(old["id"]).data,
                          lambda new: self._show_conflict(old, new, target))  # fmt: skip
            return True
        if isinstance(error, ApiClientError) and error.status in (403, 409, 422):
            self.hint.setText(f"Refused: {error.message}")
            return True
        self.hint.setText("")
        return False

    def _show_conflict(self, old: dict, new: dict, target: str) -> None:
        lines = changes_between(old, new) or ["its version"]
        self.notice.setText(
            "<b>Another reviewer changed this request before you acted.</b><br>"
            + "<br>".join(_e(line) for line in lines)
            + f"<br>Your reason is kept. Check the request again, then act (wanted: {target})."
        )
        self.notice.show()
        self.hint.setText("Nothing was changed by you.")
        self.load(new["id"], keep_notice=True)


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
