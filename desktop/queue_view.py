"""The queue: filters, counts per state, the paged table, the detail pane and keyboard triage.

Keys (when the queue has focus): J / K next and previous request, A approve, V verify,
R reject, I needs info, E evidence, Ctrl+F or / search, F5 reload. An action that needs a
reason puts the cursor in the reason box; Ctrl+Enter there takes the action.
"""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QItemSelectionModel, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop.context import AppContext
from desktop.models import ROW_ROLE, QueueModel, StateCountsModel, queue_row
from desktop.request_panel import ACTIONS, RequestPanel
from desktop.widgets import configure_table
from shared import states

AGES = {  # label -> (min_age_days, max_age_days)
    "any age": (None, None),
    "newer than 1 day": (None, 1),
    "newer than 7 days": (None, 7),
    "older than 7 days": (7, None),
    "older than 30 days": (30, None),
}
DEFAULT_STATES = [states.CONFIRMED, states.VERIFIED, states.NEEDS_INFO]


def fetch_page(client, params: dict) -> dict:
    """One page of the queue, with its rows already formatted (runs in a worker thread)."""
    page = client.list_requests(**params)
    now = dt.datetime.now(dt.UTC)
    page["items"] = [queue_row(item, now) for item in page["items"]]
    return page


class QueueView(QWidget):
    """Signals:
    counted(dict): the counts per state, after each refresh.
    """

    counted = Signal(dict)

    def __init__(self, ctx: AppContext, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.model = QueueModel(ctx.runner.run, self._fetch, self)
        self.counts = StateCountsModel(self)
        self.panel = RequestPanel(ctx)
        self._counting = 0
        self._reveal: int | None = None  # a request to select once the queue has loaded
        self._build()
        self._restore()
        self.model.loaded.connect(self._on_loaded)
        self.model.failed.connect(
            lambda error: ctx.banner.show_error("Loading the queue", error, self.refresh))
        self.panel.changed.connect(self._request_changed)
        self.counts.selection_changed.connect(lambda _: self.refresh())
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)

    def _fetch(self, params: dict) -> dict:
        session = self.ctx.session
        if session is None:
            return {"items": [], "total": 0}
        return fetch_page(session.client(), params)

    # -- layout ----------------------------------------------------------------------------

    def _build(self) -> None:
        self.search = QLineEdit(placeholderText="Search host, owner, name, path, notes (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.kind = QComboBox()
        self.kind.addItems(["any kind", *states.KINDS])
        self.host = QLineEdit(placeholderText="host")
        self.age = QComboBox()
        self.age.addItems(list(AGES))
        self.reload_button = QPushButton("Reload (F5)")
        self.summary = QLabel()
        filters = QHBoxLayout()
        for widget in (self.search, self.kind, self.host, self.age, self.reload_button):
            filters.addWidget(widget)
        filters.setStretch(0, 3)
        self.state_list = QListView()
        self.state_list.setModel(self.counts)
        self.state_list.setMaximumWidth(180)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setSortingEnabled(True)
        configure_table(self.table, self.model.columns)
        self.table.horizontalHeader().setSortIndicator(5, Qt.SortOrder.DescendingOrder)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(QLabel("<b>States</b>"))
        left_layout.addWidget(self.state_list)
        middle = QWidget()
        middle_layout = QVBoxLayout(middle)
        middle_layout.setContentsMargins(0, 0, 0, 0)
        middle_layout.addWidget(self.table)
        middle_layout.addWidget(self.summary)
        self.splitter = QSplitter()
        for widget in (left, middle, self.panel):
            self.splitter.addWidget(widget)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setStretchFactor(2, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(self.splitter, 1)
        self._search_timer = QTimer(self, singleShot=True, interval=300)
        self._search_timer.timeout.connect(self.refresh)
        self.search.textChanged.connect(lambda _: self._search_timer.start())
        self.host.editingFinished.connect(self.refresh)
        self.kind.currentIndexChanged.connect(lambda _: self.refresh())
        self.age.currentIndexChanged.connect(lambda _: self.refresh())
        self.reload_button.clicked.connect(self.refresh)
        self._shortcuts()

    def _shortcuts(self) -> None:
        def bind(key: str, slot) -> None:
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)

        bind("J", lambda: self.move(+1))
        bind("K", lambda: self.move(-1))
        for target, _label, key in ACTIONS:
            if key:
                bind(key, lambda t=target: self.panel.act(t))
        bind("E", lambda: self.panel.tabs.setCurrentWidget(self.panel.evidence))
        bind("Ctrl+F", self.search.setFocus)
        bind("/", self.search.setFocus)
        bind("F5", self.refresh)

    # -- filters ---------------------------------------------------------------------------

    def filters(self) -> dict:
        """The list filters the widgets describe (the states from the checked counts)."""
        min_age, max_age = AGES[self.age.currentText()]
        kind = self.kind.currentText()
        return {
            "q": self.search.text().strip() or None,
            "kind": [kind] if kind in states.KINDS else None,
            "host": self.host.text().strip().lower() or None,
            "min_age_days": min_age,
            "max_age_days": max_age,
            "state": self.counts.selected_states() or None,
        }

    def refresh(self) -> None:
        """Reload the queue and the counts with the current filters."""
        if self.ctx.session is None:
            return
        flt = self.filters()
        self._save()
        self.summary.setText("Loading…")
        self.model.reload(flt)
        others = {k: v for k, v in flt.items() if k != "state" and v is not None}
        self._counting += 1
        generation = self._counting
        self.ctx.call("Counting requests per state", lambda c: c.request_counts(**others),
                      lambda result: self._counted(generation, result))  # fmt: skip

    def _counted(self, generation: int, result: dict) -> None:
        if generation != self._counting:
            return  # an answer to filters that have changed since
        self.counts.set_counts(result["counts"])
        self.counted.emit(result["counts"])

    def _on_loaded(self, rows: int, total: int) -> None:
        self.summary.setText(f"{rows} of {total} requests loaded")
        if self._reveal is not None:
            position = self.model.position_of(self._reveal)
            if position is not None or not self.model.canFetchMore():
                self._reveal = None
            if position is not None:
                self.select_row(position)
                return
            if self._reveal is not None:
                self.model.fetchMore()  # the next page may hold it
        if self.table.currentIndex().row() < 0 and rows:
            self.select_row(0)

    def reveal(self, request_id: int, state: str) -> None:
        """Show one request: add its state to the filter if needed, reload, select it."""
        selected = self.counts.selected_states()
        if selected and state not in selected:
            self.counts.set_selected([*selected, state])
        self._reveal = request_id
        self.refresh()

    # -- navigation ------------------------------------------------------------------------

    def select_row(self, row: int) -> None:
        index = self.model.index(row, 0)
        flags = (QItemSelectionModel.SelectionFlag.ClearAndSelect
                 | QItemSelectionModel.SelectionFlag.Rows)  # fmt: skip
        self.table.selectionModel().setCurrentIndex(index, flags)
        self.table.scrollTo(index)

    def move(self, step: int) -> None:
        row = self.table.currentIndex().row() + step
        if row >= self.model.rowCount() and self.model.canFetchMore():
            self.model.fetchMore()
        if 0 <= row < self.model.rowCount():
            self.select_row(row)

    def _current_changed(self, current, _previous) -> None:
        row = current.data(ROW_ROLE) if current.isValid() else None
        if row is None:
            self.panel.clear()
        else:
            self.panel.load(row["id"])

    def _request_changed(self, request: dict) -> None:
        self.model.update_request(request, dt.datetime.now(dt.UTC))

    # -- persistence -----------------------------------------------------------------------

    def _save(self) -> None:
        store = self.ctx.store
        store.set_json("queue/filters", {
            "q": self.search.text(), "kind": self.kind.currentText(), "host": self.host.text(),
            "age": self.age.currentText(), "states": self.counts.selected_states(),
            "sort": self.model.sort_key})  # fmt: skip

    def _restore(self) -> None:
        saved = self.ctx.store.get_json("queue/filters", {})
        widgets = (self.search, self.kind, self.host, self.age)
        for widget in widgets:
            widget.blockSignals(True)
        self.search.setText(saved.get("q", ""))
        self.kind.setCurrentText(saved.get("kind", "any kind"))
        self.host.setText(saved.get("host", ""))
        self.age.setCurrentText(saved.get("age", "any age"))
        for widget in widgets:
            widget.blockSignals(False)
        self.counts.set_selected(saved.get("states", DEFAULT_STATES))
        self.model.sort_key = saved.get("sort", "created")

    def save_layout(self) -> None:
        self.ctx.store.set("queue/splitter", self.splitter.saveState())
        self.ctx.store.set("queue/header", self.table.horizontalHeader().saveState())

    def restore_layout(self) -> None:
        splitter = self.ctx.store.get_bytes("queue/splitter")
        if splitter is not None:
            self.splitter.restoreState(splitter)
        header = self.ctx.store.get_bytes("queue/header")
        if header is not None:
            self.table.horizontalHeader().restoreState(header)
