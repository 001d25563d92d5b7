"""The license panel: repositories with their verdicts; one repository's detected expression,
per-file evidence with scores, the policy's verdict and history; an override with a reason.

An override names the verdict it replaces (If-Match): if someone changed it first, the panel
reloads the verdict, says so, and keeps what was typed.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop.context import AppContext
from desktop.models import Column, RecordsModel
from desktop.widgets import ReasonEdit, configure_table
from shared.client import ApiClientError
from shared.licenses.policy import VERDICTS

KEEP_VERDICT = "policy's judgement"

REPOSITORY_COLUMNS = (
    Column("Repository", lambda r: f"{r['host']}/{r['owner']}/{r['name']}", width=0),
    Column("Expression", lambda r: r["current"]["expression"] or "(none)", width=130),
    Column("Verdict", lambda r: r["current"]["verdict"], width=105),
    Column("Source", lambda r: r["current"]["source"], width=65),
)
EVIDENCE_COLUMNS = (
    Column("Path", lambda e: e["path"], width=0),
    Column("Expression", lambda e: e["expression"], width=150),
    Column("Score", lambda e: f"{e['score']:.2f}", width=60),
    Column("Detector", lambda e: e["detector"], width=90),
    Column("Kind", lambda e: e["kind"], width=110),
)
HISTORY_COLUMNS = (
    Column("When", lambda v: (v["created_at"] or "")[:19].replace("T", " "), width=140),
    Column("Expression", lambda v: v["expression"] or "(none)", width=130),
    Column("Verdict", lambda v: v["verdict"], width=105),
    Column("Source", lambda v: v["source"], width=65),
    Column("By", lambda v: v["actor"], width=70),
    Column("Reason", lambda v: v["reason"] or "", width=0),
)


def _table(model: RecordsModel) -> QTableView:
    view = QTableView()
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    configure_table(view, model.columns)
    return view


PER_PAGE = 200  # the server's largest page


class LicenseView(QWidget):
    def __init__(self, ctx: AppContext, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.repositories = RecordsModel(REPOSITORY_COLUMNS, parent=self)
        self.evidence = RecordsModel(EVIDENCE_COLUMNS, parent=self)
        self.history = RecordsModel(HISTORY_COLUMNS, parent=self)
        self.record: dict | None = None
        self.etag = ""
        self.total = 0
        self.cursor: str | None = None  # the server's next_cursor
        self._query: dict = {}  # the filters of the rows shown
        self._build()

    def _build(self) -> None:
        self.verdict_filter = QComboBox()
        self.verdict_filter.addItems(["any verdict", *VERDICTS])
        self.host = QLineEdit(placeholderText="host")
        self.load_button = QPushButton("Load")
        self.summary = QLabel()
        self.more_button = QPushButton("Load more")
        self.more_button.setEnabled(False)
        top = QHBoxLayout()
        for widget in (self.verdict_filter, self.host, self.load_button):
            top.addWidget(widget)
        top.addStretch(1)
        top.addWidget(self.summary)
        top.addWidget(self.more_button)
        self.list_view = _table(self.repositories)
        self.list_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.title = QLabel("Select a repository")
        self.title.setWordWrap(True)
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("background:#fff4ce;border:1px solid #e0c060;padding:6px;")
        self.notice.hide()
        self.expression = QLineEdit(placeholderText="SPDX expression (empty: no license)")
        self.verdict = QComboBox()
        self.verdict.addItems([KEEP_VERDICT, *VERDICTS])
        self.reason = ReasonEdit("Why the verdict is overridden (required)")
        self.override_button = QPushButton("Override verdict")
        self.hint = QLabel()
        form = QFormLayout()
        form.addRow("Expression", self.expression)
        form.addRow("Verdict", self.verdict)
        form.addRow("Reason", self.reason)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.addWidget(self.title)
        right_layout.addWidget(self.notice)
        right_layout.addWidget(QLabel("<b>Evidence</b>"))
        right_layout.addWidget(_table(self.evidence), 2)
        right_layout.addWidget(QLabel("<b>History</b>"))
        right_layout.addWidget(_table(self.history), 1)
        right_layout.addLayout(form)
        right_layout.addWidget(self.override_button)
        right_layout.addWidget(self.hint)
        self.splitter = QSplitter()
        self.splitter.addWidget(self.list_view)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([420, 1000])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.splitter, 1)
        self.load_button.clicked.connect(self.refresh)
        self.more_button.clicked.connect(self.load_more)
        self.verdict_filter.currentIndexChanged.connect(lambda _: self.refresh())
        self.host.editingFinished.connect(self.refresh)
        self.list_view.selectionModel().currentRowChanged.connect(self._current_changed)
        self.override_button.clicked.connect(self.override)
        self.reason.submitted.connect(self.override)

    # -- listing ---------------------------------------------------------------------------

    def refresh(self) -> None:
        verdict = self.verdict_filter.currentText()
        self._query = {"verdict": [verdict] if verdict in VERDICTS else None,
                       "host": self.host.text().strip().lower() or None}  # fmt: skip
        params = {**self._query, "per_page": PER_PAGE}
        self.ctx.call("Loading license verdicts",
                      lambda c: c.list_licenses(**params), self._listed)  # fmt: skip

    def load_more(self) -> None:
        """The rows after the last one shown, same filters (sorted by host, owner, name)."""
        if self.cursor is None:
            return
        params = {**self._query, "per_page": PER_PAGE, "after": self.cursor}
        self.ctx.call("Loading more license verdicts",
                      lambda c: c.list_licenses(**params),
                      lambda result: self._listed(result, append=True))  # fmt: skip

    def _listed(self, page: dict, append: bool = False) -> None:
        self.total = page["total"]
        self.cursor = page.get("next_cursor")
        if append:
            # Rows are keyed by repository: never show one twice.
            shown = {(r["host"], r["owner"], r["name"]) for r in self.repositories.rows}
            fresh = [r for r in page["items"] if (r["host"], r["owner"], r["name"]) not in shown]
            self.repositories.append_rows(fresh)
        else:
            self.repositories.set_rows(page["items"])
            if page["items"]:
                self.list_view.selectRow(0)
        shown = len(self.repositories.rows)
        self.summary.setText(f"{shown} of {self.total} repositories")
        self.more_button.setEnabled(self.cursor is not None)

    def _current_changed(self, current, _previous) -> None:
        if current.isValid():
            row = self.repositories.row(current.row())
            self.load(row["host"], row["owner"], row["name"])

    def load(self, host: str, owner: str, name: str, keep_notice: bool = False) -> None:
        if not keep_notice:
            self.notice.hide()
        self.ctx.call(f"Loading the verdict of {host}/{owner}/{name}",
                      lambda c: c.get_license(host, owner, name), self._show)  # fmt: skip

    def _show(self, versioned) -> None:
        record, self.etag = versioned.data, versioned.etag
        changed_repository = self.record is None or (
            (self.record["host"], self.record["owner"], self.record["name"])
            != (record["host"], record["owner"], record["name"]))  # fmt: skip
        self.record = record
        current = record["current"]
        self.title.setText(
            f"<b>{record['host']}/{record['owner']}/{record['name']}</b><br>"
            f"Detected: <b>{current['expression'] or '(no license)'}</b> · verdict "
            f"<b>{current['verdict']}</b> ({'admitted' if current['admitted'] else 'excluded'}) "
            f"under {current['policy']['name']} {current['policy']['version']} · "
            f"{current['files_scanned']} files scanned · source {current['source']}"
        )
        self.evidence.set_rows(current["evidence"])
        self.history.set_rows(record["history"])
        if changed_repository:  # what was typed for this repository stays
            self.expression.setText(current["expression"] or "")
            self.verdict.setCurrentText(KEEP_VERDICT)
            self.hint.clear()

    # -- override --------------------------------------------------------------------------

    def override(self) -> None:
        if self.record is None:
            return
        reason = self.reason.reason()
        if not reason:
            self.hint.setText("An override needs a reason.")
            self.reason.setFocus()
            return
        options: dict = {"expression": self.expression.text().strip() or None}
        if self.verdict.currentText() in VERDICTS:
            options["verdict"] = self.verdict.currentText()
        host, owner, name = self.record["host"], self.record["owner"], self.record["name"]
        etag = self.etag
        self.hint.setText("Overriding…")
        self.ctx.call(
            f"Overriding the verdict of {host}/{owner}/{name}",
            lambda c: c.override_license(host, owner, name, etag, reason, **options),
            self._overridden,
            self._override_failed,
            retry=False,
        )

    def _overridden(self, versioned) -> None:
        self.reason.clear()
        self.notice.hide()
        self._show(versioned)
        current = versioned.data["current"]
        self.hint.setText(f"Overridden: {current['expression'] or '(none)'} → {current['verdict']}")
        for position, row in enumerate(self.repositories.rows):
            if (row["host"], row["owner"], row["name"]) == (
                    versioned.data["host"], versioned.data["owner"], versioned.data["name"]):
                self.repositories.replace_row(position, {**row, "current": current})

    def _override_failed(self, error: Exception) -> bool:
        if not isinstance(error, ApiClientError) or self.record is None:
            return False
        if error.status == 412:
            self.notice.setText("<b>Someone changed this verdict before you.</b> It was "
                                "reloaded below; your reason and choices are kept.")  # fmt: skip
            self.notice.show()
            self.hint.setText("Nothing was changed by you.")
            self.load(self.record["host"], self.record["owner"], self.record["name"],
                      keep_notice=True)  # fmt: skip
            return True
        if error.status in (404, 422):
            self.hint.setText(f"Refused: {error.message}")
            return True
        return False
