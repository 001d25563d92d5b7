"""The PII inspector: findings filtered by kind, tier and decision; the file's context with the
finding highlighted, masked by default; an audited reveal with a reason; decisions one by one
or in bulk (the checked rows)."""

from __future__ import annotations

from PySide6.QtGui import QColor, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from desktop.context import AppContext
from desktop.models import Column, RecordsModel
from desktop.widgets import configure_table
from shared.pii.findings import KINDS, TIERS

PER_PAGE = 200
DECISIONS = {"any decision": None, "undecided": "none", "confirmed": "confirmed",
             "false positive": "false_positive"}  # fmt: skip


def _location(row: dict) -> str:
    if not row["locations"]:
        return ""
    loc = row["locations"][0]
    more = f" (+{len(row['locations']) - 1})" if len(row["locations"]) > 1 else ""
    return f"{loc['host']}/{loc['owner']}/{loc['name']}/{loc['path']}{more}"


FINDING_COLUMNS = (
    Column("#", lambda r: r["id"], width=60),
    Column("Kind", lambda r: r["kind"], width=80),
    Column("Rule", lambda r: r["rule"], width=90),
    Column("Tier", lambda r: r["tier"], width=40),
    Column("Line", lambda r: r["line"], width=45),
    Column("Value (masked)", lambda r: r["masked"], width=170),
    Column("Decision", lambda r: (r["decision"] or {}).get("decision", "undecided"), width=100),
    Column("File", _location, width=0),
)


class PiiView(QWidget):
    def __init__(self, ctx: AppContext, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.model = RecordsModel(FINDING_COLUMNS, checkable=True, parent=self)
        self.current: dict | None = None
        self.revealed = False
        self.highlight = (0, 0)  # the highlighted span of the context shown
        self.total = 0
        self.cursor: str | None = None  # the server's next_cursor
        self._build()

    def _build(self) -> None:
        self.kind = QComboBox()
        self.kind.addItems(["any kind", *KINDS])
        self.tier = QComboBox()
        self.tier.addItems(["any tier", *(f"tier {t}" for t in TIERS)])
        self.decision = QComboBox()
        self.decision.addItems(list(DECISIONS))
        self.host = QLineEdit(placeholderText="host")
        self.load_button = QPushButton("Load")
        self.more_button = QPushButton("Load more")
        self.check_all = QCheckBox("Check all")
        top = QHBoxLayout()
        for widget in (self.kind, self.tier, self.decision, self.host, self.load_button,
                       self.more_button, self.check_all):  # fmt: skip
            top.addWidget(widget)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        configure_table(self.table, FINDING_COLUMNS)
        self.summary = QLabel()
        self.state = QLabel("Select a finding")
        self.state.setWordWrap(True)
        self.context = QPlainTextEdit(readOnly=True)
        self.context.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        font = self.context.font()
        font.setFamily("DejaVu Sans Mono")
        self.context.setFont(font)
        self.history = QLabel()
        self.history.setWordWrap(True)
        self.reason = QLineEdit(placeholderText="Reason to reveal, or for the decision")
        self.reveal_button = QPushButton("Reveal value (logged)")
        self.mask_button = QPushButton("Mask again")
        self.confirm_button = QPushButton("Confirmed")
        self.false_button = QPushButton("False positive")
        actions = QHBoxLayout()
        for widget in (self.reveal_button, self.mask_button, self.confirm_button,
                       self.false_button):  # fmt: skip
            actions.addWidget(widget)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        for widget in (self.state, self.context, self.history, self.reason):
            right_layout.addWidget(widget)
        right_layout.addLayout(actions)
        right_layout.setStretch(1, 1)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.table)
        left_layout.addWidget(self.summary)
        self.splitter = QSplitter()
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.splitter, 1)
        self.load_button.clicked.connect(self.refresh)
        self.more_button.clicked.connect(self.load_more)
        for combo in (self.kind, self.tier, self.decision):
            combo.currentIndexChanged.connect(lambda _: self.refresh())
        self.host.editingFinished.connect(self.refresh)
        self.check_all.toggled.connect(self.model.set_all_checked)
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        self.reveal_button.clicked.connect(self.reveal)
        self.mask_button.clicked.connect(lambda: self._show_finding(self.current))
        self.confirm_button.clicked.connect(lambda: self.decide("confirmed"))
        self.false_button.clicked.connect(lambda: self.decide("false_positive"))
        self.reason.textChanged.connect(lambda _: self._enable())
        self._enable()

    def _enable(self) -> None:
        has = self.current is not None
        reason = bool(self.reason.text().strip())
        self.reveal_button.setEnabled(has and not self.revealed and reason)
        self.mask_button.setEnabled(has and self.revealed)
        for button in (self.confirm_button, self.false_button):
            button.setEnabled(has or bool(self.model.checked))

    # -- listing ---------------------------------------------------------------------------

    def filters(self) -> dict:
        tier = self.tier.currentText()
        kind = self.kind.currentText()
        return {"kind": kind if kind in KINDS else None,
                "tier": int(tier.split()[1]) if tier.startswith("tier") else None,
                "decision": DECISIONS[self.decision.currentText()],
                "host": self.host.text().strip().lower() or None}  # fmt: skip

    def refresh(self) -> None:
        flt = self.filters()
        self.ctx.call("Loading PII findings",
                      lambda c: c.list_pii_findings(**flt, per_page=PER_PAGE),
                      self._listed)  # fmt: skip

    def load_more(self) -> None:
        if self.cursor is None:
            return
        # After the last finding shown, whatever others decided meanwhile (an offset would
        # skip findings when decided ones leave the "undecided" filter).
        flt, after = self.filters(), self.cursor
        self.ctx.call("Loading more PII findings",
                      lambda c: c.list_pii_findings(**flt, per_page=PER_PAGE, after=after),
                      lambda result: self._listed(result, append=True))  # fmt: skip

    def _listed(self, result: dict, append: bool = False) -> None:
        self.total = result["total"]
        self.cursor = result.get("next_cursor")
        if append:
            shown = {row["id"] for row in self.model.rows}
            self.model.append_rows([r for r in result["items"] if r["id"] not in shown])
        else:
            self.check_all.setChecked(False)
            self.model.set_rows(result["items"])
        self.summary.setText(f"{len(self.model.rows)} of {self.total} findings")
        self.more_button.setEnabled(self.cursor is not None)
        if self.model.rows and self.table.currentIndex().row() < 0:
            self.table.selectRow(0)
        self._enable()

    # -- one finding -----------------------------------------------------------------------

    def _current_changed(self, current, _previous) -> None:
        if not current.isValid():
            self.current = None
            self._enable()
            return
        finding_id = self.model.row(current.row())["id"]
        self.ctx.call(f"Loading finding {finding_id}",
                      lambda c: c.get_pii_finding(finding_id), self._show_finding)  # fmt: skip

    def _show_finding(self, finding: dict | None) -> None:
        self.current, self.revealed = finding, False
        if finding is None:
            return
        ctx = finding["context"]
        self.state.setText(f"<b>#{finding['id']}</b> {finding['kind']} ({finding['rule']}, tier "
                           f"{finding['tier']}) at line {finding['line']} · <i>masked</i>")
        self._show_text(ctx["text"], ctx["value_start"], ctx["value_end"], "#ffe58a")
        events = finding.get("history", [])
        self.history.setText("Decisions: " + ("; ".join(
            f"{e['to_decision']} by {e['actor']}" + (f" ({e['reason']})" if e["reason"] else "")
            for e in events) or "none yet"))  # fmt: skip
        self._enable()

    def _show_text(self, text: str, start: int, end: int, colour: str) -> None:
        self.context.setPlainText(text)
        cursor = QTextCursor(self.context.document())
        cursor.setPosition(start)
        cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
        fmt = QTextCharFormat()
        fmt.setBackground(QColor(colour))
        fmt.setFontWeight(700)
        selection = QTextEdit.ExtraSelection()
        selection.cursor, selection.format = cursor, fmt
        self.context.setExtraSelections([selection])
        self.highlight = (start, end)
        shown = QTextCursor(self.context.document())
        shown.setPosition(start)
        self.context.setTextCursor(shown)
        self.context.ensureCursorVisible()

    def highlighted_text(self) -> str:
        start, end = self.highlight
        return self.context.toPlainText()[start:end]

    def reveal(self) -> None:
        """Ask the server for the raw value; it records the reveal and the reason."""
        if self.current is None or not self.reason.text().strip():
            return
        finding_id, reason = self.current["id"], self.reason.text().strip()
        self.ctx.call(f"Revealing finding {finding_id}",
                      lambda c: c.reveal_pii_finding(finding_id, reason), self._revealed,
                      retry=False)  # fmt: skip

    def _revealed(self, raw: dict) -> None:
        if self.current is None or raw["id"] != self.current["id"]:
            return
        self.revealed = True
        self.state.setText(f"<b>#{raw['id']}</b> <span style='color:#b00020'><b>REVEALED</b></span>"
                           " — this reveal and its reason are in the audit log")
        self._show_text(raw["context"], raw["value_start"], raw["value_end"], "#ffb3b3")
        self.reason.clear()
        self._enable()

    # -- decisions -------------------------------------------------------------------------

    def targets(self) -> list[dict]:
        """The checked findings, or else the current one."""
        checked = self.model.checked_rows()
        if checked:
            return checked
        return [self.current] if self.current is not None else []

    def decide(self, decision: str) -> None:
        reason = self.reason.text().strip()
        seen, items = set(), []
        for finding in self.targets():
            key = (finding["fingerprint"], finding["rule"])
            if key not in seen:
                seen.add(key)
                item = {"fingerprint": key[0], "rule": key[1], "decision": decision}
                items.append({**item, "reason": reason} if reason else item)
        if not items:
            return
        self.ctx.call(f"Recording {len(items)} decision(s)",
                      lambda c: c.decide_pii(items), self._decided, retry=False)  # fmt: skip

    def _decided(self, report: dict) -> None:
        self.reason.clear()
        self.ctx.status.emit(f"{report['changed']} decision(s) changed")
        keep = self.table.currentIndex().row()
        self.refresh()
        if self.current is not None:
            self._current_changed(self.model.index(max(keep, 0), 0), None)
