"""The audit view: the latest signed checkpoint, recent entries, and a local verification that
warns loudly when the server's history is not the one this app verified before."""

from __future__ import annotations

import datetime as dt
import json

from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop.audit_check import AuditReport, verify_audit_log
from desktop.context import AppContext
from desktop.models import Column, RecordsModel
from desktop.widgets import STYLES, configure_table
from shared.log_client import LogVerificationError

RECENT = 200

ENTRY_COLUMNS = (
    Column("#", lambda e: e["index"], width=60),
    Column("Time", lambda e: e["time"], width=140),
    Column("Action", lambda e: e["action"], width=190),
    Column("Actor", lambda e: e["actor"], width=130),
    Column("Subject", lambda e: e["subject"], width=160),
    Column("Details", lambda e: e["details"], width=0),
)


def load_recent(client) -> dict:
    """The checkpoint and the newest entries, parsed for display (in a worker thread)."""
    checkpoint = client.audit_checkpoint()
    size = checkpoint["size"]
    rows = []
    if size:
        for item in client.audit_entries(max(size - RECENT, 0), size):
            entry = json.loads(item["entry"])
            rows.append({"index": item["index"], "time": entry["time"][:19].replace("T", " "),
                         "action": entry["action"], "actor": entry["actor"],
                         "subject": entry["subject"],
                         "details": json.dumps(entry.get("details") or {}, sort_keys=True)})
    rows.reverse()  # newest first
    return {"checkpoint": checkpoint, "entries": rows}


class AuditView(QWidget):
    def __init__(self, ctx: AppContext, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.entries = RecordsModel(ENTRY_COLUMNS, parent=self)
        self.tampered = False
        self.load_button = QPushButton("Reload")
        self.verify_button = QPushButton("Verify (consistency + selected entries)")
        self.warning = QLabel()
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet(STYLES["alarm"] + "padding:12px;font-size:15px;")
        self.warning.hide()
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.checkpoint = QPlainTextEdit(readOnly=True)
        self.checkpoint.setMaximumHeight(110)
        self.table = QTableView()
        self.table.setModel(self.entries)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        configure_table(self.table, ENTRY_COLUMNS)
        buttons = QHBoxLayout()
        buttons.addWidget(self.load_button)
        buttons.addWidget(self.verify_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.warning)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(QLabel("<b>Latest signed checkpoint</b>"))
        layout.addWidget(self.checkpoint)
        layout.addWidget(QLabel("<b>Recent entries</b> (select some to prove their inclusion)"))
        layout.addWidget(self.table, 1)
        self.load_button.clicked.connect(self.refresh)
        self.verify_button.clicked.connect(self.verify)

    def refresh(self) -> None:
        self.ctx.call("Loading the audit log", load_recent, self._loaded)

    def _loaded(self, data: dict) -> None:
        self.checkpoint.setPlainText(data["checkpoint"]["note"])
        self.entries.set_rows(data["entries"])
        if not self.status.text():  # a verification's result stays until the next one
            self.status.setText(self._last_seen())

    def _last_seen(self) -> str:
        seen = self.ctx.store.get_json(self._key(), None)
        if not seen:
            return "This app has not verified this server's log yet."
        return f"Last verified here: {seen['size']} entries, on {seen['at']}."

    def _key(self) -> str:
        server = self.ctx.session.server if self.ctx.session else ""
        return f"audit/{self.ctx.store.audit_state_path(server).stem}"

    def chosen(self) -> list[int]:
        rows = {index.row() for index in self.table.selectionModel().selectedRows()}
        return [self.entries.row(r)["index"] for r in sorted(rows)]

    def verify(self) -> None:
        session = self.ctx.session
        if session is None:
            return
        path = self.ctx.store.audit_state_path(session.server)
        chosen = self.chosen()
        self.status.setText("Verifying…")
        self.ctx.call("Verifying the audit log",
                      lambda c: verify_audit_log(c, path, chosen), self._verified,
                      self._verify_failed)  # fmt: skip

    def _verified(self, report: AuditReport) -> None:
        self.tampered = False
        self.warning.hide()
        at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        self.ctx.store.set_json(self._key(), {"size": report.size, "at": at})
        parts = [f"<b>Verified</b>: {report.size} entries, signed checkpoint"]
        if report.previous_size is None:
            parts.append(f"first verification; pinned the server's key {report.pinned_now}")
        else:
            parts.append(f"consistent with the {report.previous_size} entries verified before")
        if report.included:
            shown = ", ".join(str(i) for i in report.included[:20])
            parts.append(f"{len(report.included)} chosen entries proved included ({shown})")
        self.status.setText("; ".join(parts) + ".")
        self.status.setStyleSheet(STYLES["ok"] + "padding:6px;")
        self.ctx.banner.show_message("The audit log verified.", "ok")
        self.refresh()

    def _verify_failed(self, error: Exception) -> bool:
        if not isinstance(error, LogVerificationError) or error.code in (
                "unreachable", "http_error"):  # fmt: skip
            self.status.setText("The log could not be checked (see the banner).")
            return False
        self.tampered = True
        self.warning.setText(
            "⚠ THE SERVER'S AUDIT HISTORY CHANGED ⚠<br>"
            f"{error.message} ({error.code}).<br>"
            "What this server shows now is not the history this app verified before. Do not "
            "trust its log; tell the operators and keep this machine's saved state as evidence."
        )
        self.warning.show()
        self.status.setText(self._last_seen())
        self.status.setStyleSheet("")
        self.ctx.banner.show_message(
            f"Audit log verification FAILED: {error.message} ({error.code})", "alarm",
            self.verify)  # fmt: skip
        return True
