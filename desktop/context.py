"""What every view shares: the session, the task runner, the banner and the store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from desktop.session import Session
from desktop.store import Store
from desktop.tasks import Runner
from desktop.widgets import Banner
from shared.client import OptoutClient


class AppContext(QObject):
    """The app's shared parts; views reach the server only through ``call``.

    Signals:
        session_changed(object): a new ``Session`` (or None after disconnecting).
        status(str): a short message for the status bar.
    """

    session_changed = Signal(object)
    status = Signal(str)

    def __init__(self, store: Store, runner: Runner, banner: Banner, parent=None):
        super().__init__(parent)
        self.store, self.runner, self.banner = store, runner, banner
        self.session: Session | None = None

    def set_session(self, session: Session | None) -> None:
        if self.session is not None:
            old = self.session
            self.runner.run(old.close)  # closing sockets must not hold up the window
        self.session = session
        self.session_changed.emit(session)

    def call(
        self,
        what: str,
        fn: Callable[[OptoutClient], Any],
        on_done: Callable[[Any], None],
        on_failed: Callable[[Exception], bool] | None = None,
        retry: bool = True,
    ) -> None:
        """Run ``fn(client)`` off the GUI thread; report failures in the banner.

        ``on_failed`` may handle an error itself by returning True. Otherwise the banner shows
        ``what`` failed, with a Retry button that runs the same call again.
        """
        session = self.session
        if session is None:
            self.banner.show_message(f"{what}: not connected to a server", "error")
            return

        def failed(error: Exception) -> None:
            if on_failed is not None and on_failed(error):
                return
            again = (lambda: self.call(what, fn, on_done, on_failed, retry)) if retry else None
            self.banner.show_error(what, error, again)

        self.runner.run(lambda: fn(session.client()), on_done, failed)
