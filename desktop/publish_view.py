"""Publish (publisher role): the next exclusion list as a diff against the current one, then a
typed confirmation; shows the new version and its signed manifest."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop.context import AppContext
from desktop.models import Column, RecordsModel
from desktop.widgets import configure_table

CONFIRM_WORD = "publish"


def rule_text(rule: dict) -> str:
    """A rule in words: ``repository github.com/octocat/hello``."""
    where = "/".join(str(rule[k]) for k in ("host", "owner", "name", "path") if rule.get(k))
    extra = f" sha256 {rule['sha256'][:12]}…" if rule.get("sha256") else ""
    return f"{where}{extra}" if where else ", ".join(f"{k}={v}" for k, v in rule.items())


DIFF_COLUMNS = (
    Column("", lambda r: r["change"], width=95),
    Column("Kind", lambda r: r["rule"].get("kind", ""), width=90),
    Column("Rule", lambda r: rule_text(r["rule"]), width=0),
    Column("Requests", lambda r: ", ".join(f"#{i}" for i in r.get("requests") or []), width=120),
)


class PublishView(QWidget):
    def __init__(self, ctx: AppContext, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.diff = RecordsModel(DIFF_COLUMNS, parent=self)
        self.preview: dict | None = None
        self.preview_button = QPushButton("Preview next list")
        self.summary = QLabel("Preview the next exclusion list before publishing it.")
        self.summary.setWordWrap(True)
        self.table = QTableView()
        self.table.setModel(self.diff)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        configure_table(self.table, DIFF_COLUMNS)
        self.expires = QSpinBox(minimum=1, maximum=365, value=30, suffix=" days")
        self.confirm = QLineEdit(placeholderText=f"type {CONFIRM_WORD!r} to confirm")
        self.publish_button = QPushButton("Publish")
        self.publish_button.setStyleSheet("font-weight:bold;")
        self.result = QPlainTextEdit(readOnly=True)
        self.result.setMaximumHeight(170)
        self.result.setPlaceholderText("The signed manifest of the new version appears here.")
        bottom = QHBoxLayout()
        bottom.addWidget(QLabel("Expires after"))
        bottom.addWidget(self.expires)
        bottom.addWidget(self.confirm, 1)
        bottom.addWidget(self.publish_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.preview_button)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addLayout(bottom)
        layout.addWidget(self.result)
        self.preview_button.clicked.connect(self.refresh)
        self.confirm.textChanged.connect(lambda _: self._enable())
        self.publish_button.clicked.connect(self.publish)
        self._enable()

    def _enable(self) -> None:
        ready = self.preview is not None and self.confirm.text().strip() == CONFIRM_WORD
        self.publish_button.setEnabled(ready)

    def refresh(self) -> None:
        self.ctx.call("Previewing the next exclusion list",
                      lambda c: c.exclusions_preview(), self._previewed)  # fmt: skip

    def _previewed(self, preview: dict) -> None:
        self.preview = preview
        rows = [{"change": "+ added", **c} for c in preview["added"]]
        rows += [{"change": "− removed", **c} for c in preview["removed"]]
        self.diff.set_rows(rows)
        current = preview["current_version"]
        self.summary.setText(
            f"Version {preview['next_version']} against "
            f"{'nothing published yet' if current is None else f'version {current}'}: "
            f"<b>{len(preview['added'])} rule(s) added, {len(preview['removed'])} removed</b>, "
            f"{preview['rules']} in all; publishing moves "
            f"{len(preview['requests_to_publish'])} approved request(s) to published."
        )
        self._enable()

    def publish(self) -> None:
        typed = self.confirm.text().strip()
        if self.preview is None or typed != CONFIRM_WORD:
            return
        days = self.expires.value()
        self.publish_button.setEnabled(False)
        self.ctx.call("Publishing the exclusion list",
                      lambda c: c.publish_exclusions(typed, days), self._published,
                      self._publish_failed, retry=False)  # fmt: skip

    def _publish_failed(self, _error: Exception) -> bool:
        self._enable()
        return False  # the banner says why

    def _published(self, result: dict) -> None:
        self.confirm.clear()
        self.preview = None
        self.summary.setText(f"<b>Published version {result['version']}</b>: {result['rules']} "
                             f"rule(s), expires {result['expires'][:10]}.")  # fmt: skip
        self.result.setPlainText(result["manifest"])
        self.diff.set_rows([])
        self._enable()
        self.ctx.status.emit(f"Published exclusion list version {result['version']}")
