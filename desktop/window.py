"""The main window: the banner, the connect page, and the views in tabs."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.audit_view import AuditView
from desktop.connect_view import ConnectView
from desktop.context import AppContext
from desktop.intake_view import IntakeView
from desktop.license_view import LicenseView
from desktop.pii_view import PiiView
from desktop.publish_view import PublishView
from desktop.queue_view import QueueView
from desktop.session import Session
from desktop.store import Store
from desktop.tasks import Runner
from desktop.widgets import Banner

SHORTCUTS = """<table>
<tr><td><b>J</b> / <b>K</b></td><td>next / previous request</td></tr>
<tr><td><b>A</b></td><td>approve</td></tr>
<tr><td><b>V</b></td><td>verify (needs a reason: the manual verification note)</td></tr>
<tr><td><b>R</b></td><td>reject (needs a reason)</td></tr>
<tr><td><b>I</b></td><td>needs info (needs a reason)</td></tr>
<tr><td><b>E</b></td><td>show the evidence</td></tr>
<tr><td><b>Ctrl+Enter</b></td><td>in the reason box: take the action that asked for it</td></tr>
<tr><td><b>Ctrl+F</b> or <b>/</b></td><td>search</td></tr>
<tr><td><b>F5</b></td><td>reload the queue and the counts</td></tr>
<tr><td><b>Ctrl+1…6</b></td><td>queue, PII, licenses, publish, audit, intake</td></tr>
<tr><td><b>Ctrl+Enter</b></td><td>in the intake message: propose requests from it</td></tr>
</table>"""


class MainWindow(QMainWindow):
    def __init__(self, store: Store, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Optout reviewer")
        self.store = store
        self.runner = Runner(self)
        self.banner = Banner()
        self.ctx = AppContext(store, self.runner, self.banner, self)
        self.connect_view = ConnectView(self.ctx)
        self.queue = QueueView(self.ctx)
        self.pii = PiiView(self.ctx)
        self.licenses = LicenseView(self.ctx)
        self.publish = PublishView(self.ctx)
        self.audit = AuditView(self.ctx)
        self.intake = IntakeView(self.ctx)
        self.tabs = QTabWidget()
        for view, title in ((self.queue, "Queue"), (self.pii, "PII inspector"),
                            (self.licenses, "Licenses"), (self.publish, "Publish"),
                            (self.audit, "Audit log"), (self.intake, "Intake")):  # fmt: skip
            self.tabs.addTab(view, title)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.connect_view)
        self.stack.addWidget(self.tabs)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.banner)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.who = QLabel("not connected")
        self.progress = QProgressBar(maximumWidth=140, textVisible=False)
        self.progress.setRange(0, 0)  # busy: the length of network work is not known
        self.progress.hide()
        self.statusBar().addPermanentWidget(self.who)
        self.statusBar().addPermanentWidget(self.progress)
        self._menus()
        self.connect_view.connected.connect(self.ctx.set_session)
        self.ctx.session_changed.connect(self._session_changed)
        self.ctx.status.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.runner.busy_changed.connect(lambda n: self.progress.setVisible(n > 0))
        self.tabs.currentChanged.connect(self._tab_shown)
        self.intake.submitted.connect(lambda _: self.queue.refresh())
        self.intake.show_request.connect(self._show_in_queue)
        self._shown: set[int] = set()
        self._restore()

    def _menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        disconnect = QAction("&Disconnect", self)
        disconnect.triggered.connect(lambda: self.ctx.set_session(None))
        quit_action = QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addActions([disconnect, quit_action])
        view_menu = self.menuBar().addMenu("&View")
        self.view_actions: list[QAction] = []
        for number in range(self.tabs.count()):
            action = QAction(self.tabs.tabText(number), self, shortcut=f"Ctrl+{number + 1}")
            action.triggered.connect(lambda _=False, n=number: self.tabs.setCurrentIndex(n))
            view_menu.addAction(action)
            self.view_actions.append(action)
        help_menu = self.menuBar().addMenu("&Help")
        keys = QAction("&Keyboard shortcuts", self)
        keys.triggered.connect(self.show_shortcuts)
        help_menu.addAction(keys)

    def _show_in_queue(self, request: dict) -> None:
        self.tabs.setCurrentWidget(self.queue)
        self.queue.reveal(request["id"], request["state"])

    def show_shortcuts(self) -> None:
        box = QMessageBox(QMessageBox.Icon.Information, "Keyboard shortcuts", SHORTCUTS,
                          parent=self)  # fmt: skip
        box.setModal(False)
        box.show()

    # -- session ---------------------------------------------------------------------------

    def _session_changed(self, session: Session | None) -> None:
        self._shown.clear()
        self.banner.hide()
        if session is None:
            self.who.setText("not connected")
            self.stack.setCurrentWidget(self.connect_view)
            return
        self.who.setText(f"{session.name} ({session.role}) @ {session.server}")
        publish_tab = self.tabs.indexOf(self.publish)
        self.tabs.setTabEnabled(publish_tab, session.can_publish)
        self.tabs.setTabToolTip(publish_tab, "" if session.can_publish else
                                "publishing needs the publisher or admin role")  # fmt: skip
        self.stack.setCurrentWidget(self.tabs)
        if not self.tabs.isTabEnabled(self.tabs.currentIndex()):
            self.tabs.setCurrentWidget(self.queue)
        self._tab_shown(self.tabs.currentIndex())

    def _tab_shown(self, number: int) -> None:
        """Load a view the first time it is shown in a session."""
        if self.ctx.session is None or number in self._shown or number < 0:
            return
        self._shown.add(number)
        view = self.tabs.widget(number)
        view.refresh()
        self.store.set("window/tab", number)

    # -- persistence -----------------------------------------------------------------------

    def _restore(self) -> None:
        geometry = self.store.get_bytes("window/geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1280, 800)
        state = self.store.get_bytes("window/state")
        if state is not None:
            self.restoreState(state)
        self.tabs.setCurrentIndex(int(self.store.get("window/tab", 0)))
        self.queue.restore_layout()

    def save_state(self) -> None:
        self.store.set("window/geometry", self.saveGeometry())
        self.store.set("window/state", self.saveState())
        self.store.set("window/tab", self.tabs.currentIndex())
        self.queue.save_layout()
        self.store.sync()

    def closeEvent(self, event) -> None:
        self.save_state()
        self.runner.wait(10_000)
        if self.ctx.session is not None:
            self.ctx.session.close()
        super().closeEvent(event)
