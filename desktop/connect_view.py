"""Connect to a server with a reviewer's token; keep the token only if asked."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.context import AppContext
from desktop.session import Session, connect
from desktop.widgets import describe
from shared.client import ApiClientError
from shared.states import USER_ROLES

DEFAULT_SERVER = "http://127.0.0.1:8000"


def open_session(server: str, token: str) -> Session:
    """Connect and refuse tokens that are not a reviewer's, publisher's or admin's."""
    session = connect(server, token)
    if session.role not in USER_ROLES:
        session.close()
        raise ApiClientError(403, "not_staff", f"a {session.role or 'unknown'} token cannot "
                             "review: use a reviewer, publisher or admin token")  # fmt: skip
    return session


class ConnectView(QWidget):
    """Signals:
    connected(object): the new ``Session``.
    """

    connected = Signal(object)

    def __init__(self, ctx: AppContext, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.server = QLineEdit(ctx.store.get("server", DEFAULT_SERVER))
        self.token = QLineEdit(echoMode=QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText("optu_…  (from 'optout users add NAME --role reviewer')")
        self.remember = QCheckBox(f"Remember the token on this computer ({ctx.store.token_place})")
        self.remember.setChecked(ctx.store.get("remember_token", "false") == "true")
        self.button = QPushButton("Connect")
        self.message = QLabel()
        self.message.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Server", self.server)
        form.addRow("Token", self.token)
        form.addRow("", self.remember)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<h2>Optout reviewer</h2>"))
        layout.addLayout(form)
        layout.addWidget(self.button)
        layout.addWidget(self.message)
        layout.addStretch(1)
        self.button.clicked.connect(self.connect_now)
        self.token.returnPressed.connect(self.connect_now)
        saved = ctx.store.load_token(self.server.text().strip().rstrip("/"))
        if saved:
            self.token.setText(saved)

    def connect_now(self) -> None:
        server, token = self.server.text().strip().rstrip("/"), self.token.text().strip()
        if not server or not token:
            self.message.setText("Give the server's address and your token.")
            return
        self.button.setEnabled(False)
        self.message.setText(f"Connecting to {server}…")
        self.ctx.runner.run(lambda: open_session(server, token), self._connected, self._failed)

    def _connected(self, session: Session) -> None:
        store = self.ctx.store
        store.set("server", session.server)
        store.set("remember_token", "true" if self.remember.isChecked() else "false")
        if self.remember.isChecked():
            store.save_token(session.server, session.token)
        else:
            store.forget_token(session.server)
        self.button.setEnabled(True)
        self.message.setText(f"Connected as {session.name} ({session.role}).")
        self.connected.emit(session)

    def _failed(self, error: Exception) -> None:
        self.button.setEnabled(True)
        self.message.setText(f"Could not connect: {describe(error)}")
