"""Qt item models: thin adapters over plain rows (dicts), emitting the right signals.

``RecordsModel`` shows a list of dicts through a column spec, optionally with a check box per
row (for bulk actions). ``QueueModel`` is the request queue: it pages from the server as the
view scrolls (``canFetchMore``/``fetchMore``), the fetch running in the thread pool.
``StateCountsModel`` lists the states with their counts, checkable, as the state filter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)

from shared import states

Index = QModelIndex | QPersistentModelIndex
ROW_ROLE = Qt.ItemDataRole.UserRole + 1  # the row's dict


_DISPLAY, _TOOLTIP = Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole
_SERVED_ROLES = frozenset({_DISPLAY, _TOOLTIP, ROW_ROLE, Qt.ItemDataRole.CheckStateRole})
_ROW_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
_CHECKABLE_FLAGS = _ROW_FLAGS | Qt.ItemFlag.ItemIsUserCheckable


@dataclass(frozen=True)
class Column:
    title: str
    value: Callable[[dict], Any]
    sort_key: str | None = None  # the server's sort name, for sortable queue columns
    width: int = 90  # pixels; 0: this column takes the room that is left


class RecordsModel(QAbstractTableModel):
    """A read-only table of dicts; with ``checkable``, column 0 carries a check box."""

    def __init__(self, columns: Sequence[Column], checkable: bool = False, parent=None):
        super().__init__(parent)
        self.columns = list(columns)
        self.checkable = checkable
        self.rows: list[dict] = []
        self.checked: set[int] = set()  # row positions

    # -- the model interface -------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        # Called for every visible cell and role at each repaint: answer the roles we do not
        # serve before touching the index.
        if role not in _SERVED_ROLES or not index.isValid():
            return None
        position = index.row()
        if not 0 <= position < len(self.rows):
            return None
        row = self.rows[position]
        if role in (_DISPLAY, _TOOLTIP):
            value = self.columns[index.column()].value(row)
            return "" if value is None else str(value)
        if role == ROW_ROLE:
            return row
        if self.checkable and index.column() == 0:  # the check state role
            return Qt.CheckState.Checked if position in self.checked else Qt.CheckState.Unchecked
        return None

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not (index.isValid() and self.checkable and index.column() == 0):
            return False
        if role != Qt.ItemDataRole.CheckStateRole:
            return False
        if Qt.CheckState(value) == Qt.CheckState.Checked:
            self.checked.add(index.row())
        else:
            self.checked.discard(index.row())
        self.dataChanged.emit(index, index, [Qt.ItemDataRole.CheckStateRole])
        return True

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        if self.checkable and index.column() == 0:
            return _CHECKABLE_FLAGS
        return _ROW_FLAGS

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(self.columns):
            return self.columns[section].title
        if orientation == Qt.Orientation.Vertical and 0 <= section < len(self.rows):
            return str(section + 1)
        return None

    # -- changing the rows ---------------------------------------------------------------

    def set_rows(self, rows: Sequence[dict]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.checked.clear()
        self.endResetModel()

    def append_rows(self, rows: Sequence[dict]) -> None:
        if not rows:
            return
        first = len(self.rows)
        self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
        self.rows.extend(rows)
        self.endInsertRows()

    def replace_row(self, position: int, row: dict) -> None:
        self.rows[position] = row
        self.dataChanged.emit(
            self.index(position, 0), self.index(position, len(self.columns) - 1)
        )

    def row(self, position: int) -> dict:
        return self.rows[position]

    def checked_rows(self) -> list[dict]:
        return [self.rows[i] for i in sorted(self.checked) if i < len(self.rows)]

    def set_all_checked(self, checked: bool) -> None:
        if not (self.checkable and self.rows):
            return
        self.checked = set(range(len(self.rows))) if checked else set()
        last = self.index(len(self.rows) - 1, 0)
        self.dataChanged.emit(self.index(0, 0), last, [Qt.ItemDataRole.CheckStateRole])


# -- the request queue ------------------------------------------------------------------------


def age_text(created: str | None, now: dt.datetime) -> str:
    """``3d 4h``, ``5h``, ``12m``: how long ago an ISO time was."""
    if not created:
        return ""
    seconds = max((now - dt.datetime.fromisoformat(created)).total_seconds(), 0)
    days, rest = divmod(int(seconds), 86_400)
    if days:
        return f"{days}d {rest // 3600}h"
    if rest >= 3600:
        return f"{rest // 3600}h"
    return f"{rest // 60}m"


QUEUE_FIELDS = ("id", "kind", "state", "host", "owner", "name", "scope", "version")


def queue_row(item: dict, now: dt.datetime) -> dict:
    """A request as the queue shows it; computed in the worker thread, not the GUI's.

    Only plain values are kept: a dict holding no list or dict is untracked by Python's
    garbage collector, so 50,000 rows add nothing to a full collection's work.
    """
    row = {name: item.get(name) for name in QUEUE_FIELDS}
    row["age"] = age_text(item.get("created_at"), now)
    row["updated"] = (item.get("updated_at") or "")[:16].replace("T", " ")
    return row


QUEUE_COLUMNS = (
    Column("#", lambda r: r["id"], "id", 60),
    Column("State", lambda r: r["state"], "state", 85),
    Column("Kind", lambda r: r["kind"], "kind", 80),
    Column("Scope", lambda r: r["scope"], None, 0),
    Column("Host", lambda r: r["host"], "host", 100),
    Column("Age", lambda r: r["age"], "-created", 70),
    Column("Updated", lambda r: r["updated"], "updated", 125),
)
PAGE = 200  # the server's largest page


class QueueModel(RecordsModel):
    """The request queue, fetched a page at a time as the view scrolls.

    ``fetch(params)`` runs in the thread pool through ``run(fn, on_done, on_failed)``.

    Signals:
        loaded(int, int): rows loaded and the total that match, after each page.
        failed(object): a page could not be fetched (the exception).
    """

    loaded = Signal(int, int)
    failed = Signal(object)

    def __init__(self, run: Callable, fetch: Callable[[dict], dict], parent=None):
        super().__init__(QUEUE_COLUMNS, parent=parent)
        self._run, self._fetch = run, fetch
        self.filters: dict[str, Any] = {}
        self.sort_key = "created"
        self.total: int | None = None
        self.loading = False
        self.active = False  # nothing is fetched before the first reload
        self._generation = 0
        self._cursor: str | None = None  # the server's next_cursor: keyset paging
        self._ids: set[int] = set()

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008
        if parent.isValid() or self.loading or not self.active:
            return False
        return self.total is None or self._cursor is not None

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008
        if not self.canFetchMore(parent):
            return
        self.loading = True
        generation = self._generation
        params = {**self.filters, "sort": self.sort_key, "per_page": PAGE}
        if self._cursor is not None:
            # Continue after the last row seen: rows decided meanwhile leave the filter
            # without making the next page skip any (offsets would).
            params["after"] = self._cursor
        self._run(
            lambda: self._fetch(params),
            lambda page: self._page_arrived(generation, page),
            lambda error: self._page_failed(generation, error),
        )

    def _page_arrived(self, generation: int, page: dict) -> None:
        if generation != self._generation:
            return  # the filters changed while this page was on its way
        self.loading = False
        self._cursor = page.get("next_cursor")
        # A row that moved past the cursor (its sort value changed) may come again: once.
        fresh = [r for r in page["items"] if r["id"] not in self._ids]
        self._ids.update(r["id"] for r in fresh)
        self.total = page["total"]
        self.append_rows(fresh)
        self.loaded.emit(len(self.rows), max(self.total, len(self.rows)))

    def _page_failed(self, generation: int, error: Exception) -> None:
        if generation == self._generation:
            self.loading = False
            self.failed.emit(error)

    def reload(self, filters: dict | None = None) -> None:
        """Forget the rows and fetch the first page again (with new filters, if given)."""
        if filters is not None:
            self.filters = {k: v for k, v in filters.items() if v not in (None, "", [])}
        self._generation += 1
        self.active = True
        self.loading = False
        self.total = None
        self._cursor = None
        self._ids.clear()
        self.set_rows([])
        self.fetchMore()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(self.columns) or self.columns[column].sort_key is None:
            return
        key = self.columns[column].sort_key
        descending = order == Qt.SortOrder.DescendingOrder
        if key.startswith("-"):
            key, descending = key[1:], not descending
        wanted = ("-" if descending else "") + key
        if wanted != self.sort_key:
            self.sort_key = wanted
            if self.active:
                self.reload()

    def position_of(self, request_id: int) -> int | None:
        for position, row in enumerate(self.rows):
            if row["id"] == request_id:
                return position
        return None

    def update_request(self, item: dict, now: dt.datetime) -> None:
        """Show a request's new version (after an action or a reload) in its row."""
        position = self.position_of(item["id"])
        if position is not None:
            self.replace_row(position, queue_row(item, now))


class StateCountsModel(QAbstractListModel):
    """Every state with the number of matching requests; checked states filter the queue.

    Signals:
        selection_changed(list): the checked states, after a change by the user.
    """

    selection_changed = Signal(list)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.counts: dict[str, int | None] = dict.fromkeys(states.STATES)
        self.selected: set[str] = set()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(states.STATES)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(states.STATES):
            return None
        state = states.STATES[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            count = self.counts.get(state)
            return f"{state.replace('_', ' ')}  ({'…' if count is None else count})"
        if role == ROW_ROLE:
            return state
        if role == Qt.ItemDataRole.CheckStateRole:
            return Qt.CheckState.Checked if state in self.selected else Qt.CheckState.Unchecked
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (
            Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemIsUserCheckable
        )

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or role != Qt.ItemDataRole.CheckStateRole:
            return False
        state = states.STATES[index.row()]
        if Qt.CheckState(value) == Qt.CheckState.Checked:
            self.selected.add(state)
        else:
            self.selected.discard(state)
        self.dataChanged.emit(index, index, [Qt.ItemDataRole.CheckStateRole])
        self.selection_changed.emit(self.selected_states())
        return True

    def selected_states(self) -> list[str]:
        return [s for s in states.STATES if s in self.selected]

    def set_selected(self, selected: Sequence[str]) -> None:
        self.selected = {s for s in selected if s in states.STATES}
        self._changed_all()

    def set_counts(self, counts: dict[str, int]) -> None:
        self.counts = {s: counts.get(s, 0) for s in states.STATES}
        self._changed_all()

    def _changed_all(self) -> None:
        self.dataChanged.emit(self.index(0, 0), self.index(len(states.STATES) - 1, 0))
