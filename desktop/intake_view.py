"""Free-text intake: paste a message, see the requests it proposes, check, edit and submit.

The server reads the message (the scope parser, and the QA model when one is installed) and
proposes requests; each field comes with the words of the message that support it and a
confidence, and a field the message does not give is shown as such. Nothing is submitted
until the reviewer presses "Submit this request" and confirms the exact scope in a dialog.

Keys: Ctrl+Enter in the message proposes; Ctrl+6 opens this view.
"""

from __future__ import annotations

import html
import json

from PySide6.QtCore import QEvent, QItemSelectionModel, QObject, Qt, Signal
from PySide6.QtGui import QColor, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QTextBrowser,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from desktop.context import AppContext
from desktop.intake_model import (
    COLUMN_FIELDS,
    FIELD_KEYS,
    FIELD_LABELS,
    NOT_SAID,
    ProposalsModel,
    can_submit,
    proposal_row,
    request_body,
    scope_of,
    status_of,
)
from desktop.models import ROW_ROLE
from desktop.widgets import Banner, ReasonEdit, configure_table
from shared import states
from shared.client import ApiClientError
from shared.scope import FIELDS_BY_KIND, ScopeError

NO_HOST = "no default host"
HOSTS = (NO_HOST, "github.com", "gitlab.com", "codeberg.org", "bitbucket.org")
NO_KIND = f"— {NOT_SAID} —"
SPAN_COLOURS = {"field": "#fff1a8", "current": "#ffb347", "exception": "#f6b3b3"}


def _e(value) -> str:
    return html.escape("" if value is None else str(value))


def qt_position(text: str, index: int) -> int:
    """The position Qt's text cursor uses (UTF-16 units) for a Python string index."""
    return len(text[:index].encode("utf-16-le")) // 2


class ConfirmSubmission(QDialog):
    """Show the exact scope that will be submitted; Submit or Cancel (the default)."""

    def __init__(self, body: dict, describe: str, warnings: list[str], parent=None):
        super().__init__(parent)
        self.body = body
        self.setWindowTitle("Submit this request?")
        rows = "".join(f"<tr><td><b>{_e(k)}</b></td><td><code>{_e(v)}</code></td></tr>"
                       for k, v in body.items())  # fmt: skip
        warned = "".join(f"<p style='color:#7a1010'>⚠ {_e(w)}</p>" for w in warnings)
        self.text = QLabel(
            f"<p>This creates a request for <b>{_e(describe)}</b>:</p>"
            f"<table cellspacing=0 cellpadding=4 border=1>{rows}</table>"
            f"<p>Sent as: <code>{_e(json.dumps(body))}</code></p>{warned}"
            "<p>It starts as <i>received</i>: the owner confirms the scope with the status "
            "link before it counts.</p>"
        )
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QDialogButtonBox()
        self.submit_button = buttons.addButton("Submit", QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.submit_button.setAutoDefault(False)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.cancel_button.setDefault(True)  # Enter does not submit by accident
        self.cancel_button.setFocus()


class IntakeView(QWidget):
    """The paste box, the proposals, the editor of the selected one, and its submission.

    Signals:
        submitted(dict): a request was created (the receipt's ``request``).
        show_request(dict): the reviewer asked to see the submitted request in the queue.
    """

    submitted = Signal(dict)
    show_request = Signal(dict)

    def __init__(self, ctx: AppContext, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.model = ProposalsModel(self)
        self.result: dict | None = None
        self.sent = ""  # the message as it was when proposed from
        self.highlight: tuple[int, int] | None = None
        self.confirmation: ConfirmSubmission | None = None
        self.receipt: dict | None = None
        self._generation = 0
        self._build()
        self.table.selectionModel().currentChanged.connect(self._current_changed)
        self.message.submitted.connect(self.propose)
        self.propose_button.clicked.connect(self.propose)
        self.submit_button.clicked.connect(self.ask_to_submit)
        self.queue_button.clicked.connect(
            lambda: self.receipt and self.show_request.emit(self.receipt["request"])
        )
        self.message.textChanged.connect(self._message_changed)
        ctx.session_changed.connect(lambda _: self.clear_proposals())

    # -- layout ----------------------------------------------------------------------------

    def _build(self) -> None:
        self.message = ReasonEdit("Paste the message here (an e-mail, an issue, a form's "
                                  "notes), then Propose (Ctrl+Enter)")  # fmt: skip
        self.message.setMaximumHeight(16_777_215)
        self.default_host = QComboBox(editable=True)
        self.default_host.addItems(HOSTS)
        self.default_host.setToolTip("the host of bare owner/name forms when the text names none")
        self.default_host.setCurrentText(self.ctx.store.get("intake/default_host", NO_HOST))
        self.default_host.currentTextChanged.connect(
            lambda text: self.ctx.store.set("intake/default_host", text)
        )
        self.propose_button = QPushButton("Propose (Ctrl+Enter)")
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Default host:"))
        bar.addWidget(self.default_host, 1)
        bar.addWidget(self.propose_button)
        self.model_banner = Banner()
        self.span_hint = QLabel()
        self.span_hint.setWordWrap(True)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(QLabel("<b>Message</b>"))
        left_layout.addWidget(self.message, 1)
        left_layout.addWidget(self.span_hint)
        left_layout.addLayout(bar)
        self.summary = QLabel("Nothing proposed yet.")
        self.summary.setWordWrap(True)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        configure_table(self.table, self.model.columns)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.model_banner)
        right_layout.addWidget(self.summary)
        right_layout.addWidget(self.table, 2)
        right_layout.addWidget(self._editor(), 3)
        self.splitter = QSplitter()
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setSizes([480, 960])
        layout = QVBoxLayout(self)
        layout.addWidget(self.splitter)

    def _editor(self) -> QWidget:
        box = QWidget()
        grid = QGridLayout()
        self.kind = QComboBox()
        self.kind.addItems([NO_KIND, *states.KINDS])
        self.kind.activated.connect(self._kind_chosen)
        grid.addWidget(QLabel("Kind"), 0, 0)
        grid.addWidget(self.kind, 0, 1)
        self.edits: dict[str, QLineEdit] = {}
        self.infos: dict[str, QLabel] = {}
        for number, key in enumerate(FIELD_KEYS, start=1):
            edit, info = QLineEdit(), QLabel()
            edit.setPlaceholderText(NOT_SAID)
            edit.textEdited.connect(lambda text, k=key: self._edited(k, text))
            edit.installEventFilter(self)
            edit.setProperty("intake_field", key)
            info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.edits[key], self.infos[key] = edit, info
            grid.addWidget(QLabel(FIELD_LABELS[key]), number, 0)
            grid.addWidget(edit, number, 1)
            grid.addWidget(info, number, 2)
        grid.setColumnStretch(1, 2)
        grid.setColumnStretch(2, 3)
        self.notes = QLabel()
        self.notes.setWordWrap(True)
        self.answers = QTextBrowser()
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.submit_button = QPushButton("Submit this request…")
        self.queue_button = QPushButton("Show in queue")
        self.queue_button.hide()
        self.receipt_text = QLabel()
        self.receipt_text.setWordWrap(True)
        self.receipt_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        actions = QHBoxLayout()
        actions.addWidget(self.status, 1)
        actions.addWidget(self.submit_button)
        actions.addWidget(self.queue_button)
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(grid)
        layout.addWidget(self.notes)
        layout.addWidget(QLabel("<b>What the model was asked</b>"))
        layout.addWidget(self.answers, 1)
        layout.addLayout(actions)
        layout.addWidget(self.receipt_text)
        self._show_row(None)
        return box

    def refresh(self) -> None:
        """Nothing to load: the view waits for a message (and keeps what was typed)."""

    # -- proposing -------------------------------------------------------------------------

    def default_host_value(self) -> str | None:
        text = self.default_host.currentText().strip()
        return None if text in ("", NO_HOST) else text

    def propose(self) -> None:
        """Send the message to ``POST /intake`` (off the GUI thread)."""
        text = self.message.toPlainText()
        if not text.strip():
            self.summary.setText("Paste a message first.")
            return
        host = self.default_host_value()
        self._generation += 1
        generation = self._generation
        self.summary.setText("Proposing…")
        self.ctx.call("Proposing requests from the message", lambda c: c.intake(text, host),
                      lambda result: self._proposed(generation, text, result),
                      lambda error: self._propose_failed(generation, error))  # fmt: skip

    def _propose_failed(self, generation: int, error: Exception) -> bool:
        if generation == self._generation:
            self.summary.setText("The server could not propose from this message.")
        if isinstance(error, ApiClientError) and 400 <= error.status < 500:
            # The message itself was refused: trying the same again cannot help.
            self.ctx.banner.show_error("Proposing requests from the message", error, None)
            return True
        return False

    def _proposed(self, generation: int, text: str, result: dict) -> None:
        if generation != self._generation:
            return  # an answer to a message proposed from before the last one
        self.result, self.sent = result, text
        self.model.set_rows([proposal_row(n, p) for n, p in enumerate(result["proposals"], 1)])
        model = result["model"]
        if model["available"]:
            self.model_banner.hide()
        else:
            self.model_banner.show_message(
                "<b>No QA model is installed on the server: parser only.</b> Addresses (URLs, "
                "owner/name) are read; prose is not. Server: " + _e(model["message"]),
                "info",
            )
        self.answers.setHtml(self._answers_html(result))
        count = len(result["proposals"])
        self.summary.setText(
            f"{count} proposed request(s) ({_e(result['mode'])}). Nothing is submitted until "
            "you confirm one." if count else
            f"No request proposed: {NOT_SAID} what to remove ({_e(result['mode'])}).")  # fmt: skip
        self.receipt = None
        self.receipt_text.clear()
        self.queue_button.hide()
        if count:
            self.select_row(0)
        else:
            self._show_row(None)

    @staticmethod
    def _answers_html(result: dict) -> str:
        if not result["answers"]:
            return f"<p><i>No model: the questions were not asked ({_e(result['mode'])}).</i></p>"
        rows = []
        for a in result["answers"]:
            if a["abstained"]:
                said = f"<i>{NOT_SAID}</i> (abstained)"
            elif a["refused"]:
                said = f"“{_e(a['text'])}” — refused: {_e(a['refused'])}"
            else:
                said = f"“{_e(a['text'])}”"
            rows.append(f"<tr><td>{_e(a['question'])}</td><td>{said}</td>"
                        f"<td>{a['confidence']:.0%}</td></tr>")  # fmt: skip
        return ("<table cellspacing=0 cellpadding=3 border=1><tr><th align=left>question</th>"
                "<th align=left>answer</th><th>confidence</th></tr>" + "".join(rows)
                + "</table>")  # fmt: skip

    def clear_proposals(self) -> None:
        self._generation += 1
        self.result, self.receipt = None, None
        self.model.set_rows([])
        self.model_banner.hide()
        self.answers.clear()
        self.receipt_text.clear()
        self.queue_button.hide()
        self.summary.setText("Nothing proposed yet.")
        self._show_row(None)

    # -- the selected proposal -------------------------------------------------------------

    def select_row(self, position: int, column: int = 0) -> None:
        index = self.model.index(position, column)
        flags = (QItemSelectionModel.SelectionFlag.ClearAndSelect
                 | QItemSelectionModel.SelectionFlag.Rows)  # fmt: skip
        self.table.selectionModel().setCurrentIndex(index, flags)

    def current_position(self) -> int | None:
        position = self.table.currentIndex().row()
        return position if 0 <= position < self.model.rowCount() else None

    def current_row(self) -> dict | None:
        position = self.current_position()
        return None if position is None else self.model.row(position)

    def _current_changed(self, current, previous) -> None:
        row = current.data(ROW_ROLE) if current.isValid() else None
        if current.row() != previous.row() or row is None:
            self._show_row(row)
        key = COLUMN_FIELDS[current.column()] if current.isValid() else None
        self.show_span(key if key in FIELD_KEYS else None)

    def _show_row(self, row: dict | None) -> None:
        enabled = row is not None
        self.kind.setEnabled(enabled)
        self.kind.setCurrentText((row or {}).get("kind") or NO_KIND)
        for key, edit in self.edits.items():
            entry = (row or {}).get("fields", {}).get(key)
            edit.setText("" if entry is None else str(entry["value"]))
        if row is None:
            self.notes.clear()
        else:
            notes = [*row["notes"]]
            notes += [f"{k}: “{v['text']}”" for k, v in row["extras"].items()]
            self.notes.setText("<br>".join(_e(n) for n in notes))
        self._update_editor()

    def _update_editor(self) -> None:
        """The per-field confidence and source, the enabled fields, and the Submit button."""
        row = self.current_row()
        kind = None if row is None else row["kind"]
        required, optional = FIELDS_BY_KIND.get(kind, (frozenset(FIELD_KEYS), frozenset()))
        for key in FIELD_KEYS:
            self.edits[key].setEnabled(row is not None and key in required | optional)
            self.infos[key].setText("" if row is None else self._field_info(row, key))
        self.status.setText("" if row is None else _e(status_of(row)))
        self.submit_button.setEnabled(row is not None and can_submit(row))

    @staticmethod
    def _field_info(row: dict, key: str) -> str:
        entry, proposed = row["fields"].get(key), row["proposed"].get(key)
        if key in row["edited"]:
            was = f"“{proposed['value']}”" if proposed else NOT_SAID
            return f"edited by you (proposed: {_e(was)})"
        if entry is None:
            needed = " — needed" if key in row["missing"] else ""
            return f"<i style='color:#777'>{NOT_SAID}</i>{needed}"
        said = f"from “{_e(entry['text'])}”" if entry["text"] else "no words of the message"
        return f"{entry['confidence']:.0%} · {_e(entry['source'])} · {said}"

    def _kind_chosen(self, index: int) -> None:
        position = self.current_position()
        if position is None:
            return
        kind = self.kind.itemText(index)
        self.model.set_kind(position, None if kind == NO_KIND else kind)
        self._update_editor()

    def _edited(self, key: str, text: str) -> None:
        position = self.current_position()
        if position is not None:
            self.model.set_field(position, key, text)
            self._update_editor()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.FocusIn and watched.property("intake_field"):
            self.show_span(watched.property("intake_field"))
        return super().eventFilter(watched, event)

    # -- spans in the message --------------------------------------------------------------

    def show_span(self, key: str | None = None) -> None:
        """Highlight the selected proposal's spans in the message; ``key``'s the strongest."""
        self.highlight = None
        row = self.current_row()
        if row is None:
            self.message.setExtraSelections([])
            self.span_hint.clear()
            return
        if self.message.toPlainText() != self.sent:
            self.message.setExtraSelections([])
            self.span_hint.setText("The message changed since: propose again to see where each "
                                   "field comes from.")  # fmt: skip
            return
        spans = []
        for name, entry in row["proposed"].items():
            spans.append((entry, "current" if name == key else "field"))
        spans += [(entry, "exception") for entry in row["exceptions"]]
        spans.sort(key=lambda item: item[1] == "current")  # the current one drawn last, on top
        selections = [self._selection(e, c) for e, c in spans if e.get("start") is not None]
        self.message.setExtraSelections(selections)
        current = row["proposed"].get(key) if key else None
        if current is not None and current.get("start") is not None:
            self.highlight = (current["start"], current["end"])
            cursor = QTextCursor(self.message.document())
            cursor.setPosition(qt_position(self.sent, self.highlight[0]))
            self.message.setTextCursor(cursor)
            self.message.ensureCursorVisible()
            self.span_hint.setText(f"{FIELD_LABELS[key]}: “{_e(current['text'])}”")
        elif key:
            self.span_hint.setText(f"{FIELD_LABELS[key]}: {NOT_SAID}.")
        else:
            self.span_hint.setText("Highlighted: the words each field was read from.")

    def _selection(self, entry: dict, colour: str) -> QTextEdit.ExtraSelection:
        cursor = QTextCursor(self.message.document())
        cursor.setPosition(qt_position(self.sent, entry["start"]))
        cursor.setPosition(qt_position(self.sent, entry["end"]),
                           QTextCursor.MoveMode.KeepAnchor)  # fmt: skip
        fmt = QTextCharFormat()
        fmt.setBackground(QColor(SPAN_COLOURS[colour]))
        if colour == "current":
            fmt.setFontWeight(700)
        selection = QTextEdit.ExtraSelection()
        selection.cursor, selection.format = cursor, fmt
        return selection

    def highlighted_text(self) -> str | None:
        if self.highlight is None:
            return None
        return self.message.toPlainText()[self.highlight[0] : self.highlight[1]]

    def _message_changed(self) -> None:
        if self.result is not None and self.message.toPlainText() != self.sent:
            self.show_span(None)

    # -- submitting ------------------------------------------------------------------------

    def ask_to_submit(self) -> None:
        """Open the confirmation with the exact scope; only its Submit sends anything."""
        position, row = self.current_position(), self.current_row()
        if row is None or not can_submit(row):
            return
        try:
            scope = scope_of(row)
        except ScopeError as error:  # can_submit checked it; a second look costs nothing
            self.status.setText(_e(error.message))
            return
        body = request_body(scope)
        warnings = list(row["notes"])
        if row["exceptions"]:
            warnings.append(f"the message keeps “{row['exceptions'][0]['text']}”")
        self.confirmation = ConfirmSubmission(body, scope.describe(), warnings, self)
        self.confirmation.accepted.connect(lambda: self._submit(position, body))
        self.confirmation.finished.connect(self._confirmation_closed)
        self.confirmation.open()

    def _confirmation_closed(self, _result: int) -> None:
        dialog, self.confirmation = self.confirmation, None
        if dialog is not None:
            dialog.deleteLater()

    def _submit(self, position: int, body: dict) -> None:
        self.submit_button.setEnabled(False)
        self.status.setText("Submitting…")
        generation = self._generation

        def failed(error: Exception) -> bool:
            if generation == self._generation:
                self._update_editor()
            return False

        # No retry button: a POST that may have reached the server is not sent twice.
        self.ctx.call("Submitting the request", lambda c: c.submit(**body),
                      lambda receipt: self._submitted(generation, position, receipt), failed,
                      retry=False)  # fmt: skip

    def _submitted(self, generation: int, position: int, receipt: dict) -> None:
        request = receipt["request"]
        if generation == self._generation:
            self.model.mark_submitted(position, request["id"])
            self._update_editor()
        self.receipt = receipt
        link = receipt["status_url"]
        self.receipt_text.setText(
            f"Submitted as request <b>#{request['id']}</b> ({_e(request['state'])}): "
            f"{_e(request['scope'])}.<br>Send the sender this status link, shown only once, "
            f"to confirm the scope: <code>{_e(link)}</code>")  # fmt: skip
        self.queue_button.show()
        self.ctx.status.emit(f"Request #{request['id']} submitted")
        self.submitted.emit(request)
