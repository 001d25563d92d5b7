"""Small widgets every view uses: the error banner, the reason box, helpers for errors."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTableView,
    QWidget,
)

from shared.client import ApiClientError

STYLES = {
    "error": "background:#fde8e8;color:#7a1010;border:1px solid #e0a0a0;",
    "info": "background:#e8f1fd;color:#10386a;border:1px solid #a0bde0;",
    "ok": "background:#e6f6e9;color:#14532d;border:1px solid #9fd3ab;",
    "alarm": "background:#b00020;color:white;border:3px solid #5c0010;font-weight:bold;",
}


def describe(error: Exception) -> str:
    """One line for a person: the server's message and code, or the exception."""
    if isinstance(error, ApiClientError):
        if error.status == 0:
            return f"Cannot reach the server. {error.message}"
        return f"{error.message} ({error.code}, HTTP {error.status})"
    return f"{type(error).__name__}: {error}"


class Banner(QFrame):
    """A non-modal message above the views: errors keep a Retry button until dismissed.

    Signals:
        retried(): the user asked to try again (the banner hides itself).
    """

    retried = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("banner")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.retry_button = QPushButton("Retry")
        self.close_button = QPushButton("Dismiss")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.retry_button)
        layout.addWidget(self.close_button)
        self.retry_button.clicked.connect(self._retry)
        self.close_button.clicked.connect(self.hide)
        self._retry_fn: Callable[[], None] | None = None
        self.level = ""
        self.hide()

    def show_message(
        self, text: str, level: str = "error", retry: Callable[[], None] | None = None
    ) -> None:
        self.level = level
        self.setStyleSheet(f"QFrame#banner {{{STYLES[level]}}} QLabel {{border:none;}}")
        self.label.setText(text)
        self._retry_fn = retry
        self.retry_button.setVisible(retry is not None)
        self.show()

    def show_error(self, what: str, error: Exception, retry: Callable[[], None] | None) -> None:
        self.show_message(f"{what}: {describe(error)}", "error", retry)

    def _retry(self) -> None:
        retry, self._retry_fn = self._retry_fn, None
        self.hide()
        if retry is not None:
            retry()
            self.retried.emit()


class ReasonEdit(QPlainTextEdit):
    """Where a reviewer types a reason; it is cleared only after the action succeeded.

    Signals:
        submitted(): Ctrl+Enter was pressed.
    """

    submitted = Signal()

    def __init__(self, placeholder: str = "Reason (kept until the action succeeds)", parent=None):
        super().__init__(parent)
        self.setPlaceholderText(placeholder)
        self.setTabChangesFocus(True)
        self.setMaximumHeight(70)

    def reason(self) -> str:
        return self.toPlainText().strip()

    def keyPressEvent(self, event) -> None:
        enter = event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        if enter and event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.submitted.emit()
            return
        super().keyPressEvent(event)


def configure_table(view: QTableView, columns) -> None:
    """One line per row, columns at their given widths, the one of width 0 stretched."""
    view.setWordWrap(False)
    view.verticalHeader().hide()
    view.verticalHeader().setDefaultSectionSize(22)
    header = view.horizontalHeader()
    for number, column in enumerate(columns):
        if column.width:
            header.resizeSection(number, column.width)
        else:
            header.setSectionResizeMode(number, QHeaderView.ResizeMode.Stretch)
