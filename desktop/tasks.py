"""Run network work off the GUI thread and hand the result back by signal.

A widget never calls the server itself: it asks a ``Runner`` to run a function in the thread
pool. The function's result (or the exception it raised) comes back through the task's
signals, which Qt delivers in the GUI thread because the signal object lives there.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot


class TaskSignals(QObject):
    """What a running task reports.

    Signals:
        done(object): the function's return value.
        failed(object): the exception the function raised.
        finished(): after either of the above.
    """

    done = Signal(object)
    failed = Signal(object)
    finished = Signal()


class _Task(QRunnable):
    def __init__(self, fn: Callable[[], Any], signals: TaskSignals):
        super().__init__()
        self.fn = fn
        self.signals = signals
        self.setAutoDelete(True)

    @Slot()
    def run(self) -> None:
        try:
            result = self.fn()
        except Exception as error:  # every failure goes back to the GUI, which shows it
            self.signals.failed.emit(error)
        else:
            self.signals.done.emit(result)
        self.signals.finished.emit()


class Runner(QObject):
    """Submit functions to a thread pool and track how many are running.

    Signals:
        busy_changed(int): the number of tasks still running, after each start and end.
    """

    busy_changed = Signal(int)

    def __init__(self, parent: QObject | None = None, threads: int = 4):
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(threads)
        self._running: dict[int, TaskSignals] = {}
        self._ids = itertools.count()

    @property
    def running(self) -> int:
        return len(self._running)

    def run(
        self,
        fn: Callable[[], Any],
        on_done: Callable[[Any], None] | None = None,
        on_failed: Callable[[Exception], None] | None = None,
    ) -> TaskSignals:
        """Run ``fn()`` in the pool; ``on_done``/``on_failed`` are called in the GUI thread."""
        signals = TaskSignals(self)
        task_id = next(self._ids)
        self._running[task_id] = signals  # keep the signal object alive until the task ends
        if on_done is not None:
            signals.done.connect(on_done)
        if on_failed is not None:
            signals.failed.connect(on_failed)
        signals.finished.connect(lambda: self._ended(task_id))
        self.pool.start(_Task(fn, signals))
        self.busy_changed.emit(self.running)
        return signals

    def _ended(self, task_id: int) -> None:
        signals = self._running.pop(task_id, None)
        if signals is not None:
            signals.deleteLater()
        self.busy_changed.emit(self.running)

    def wait(self, msecs: int = 30_000) -> bool:
        """Wait for every queued task (for shutdown and tests)."""
        return self.pool.waitForDone(msecs)
