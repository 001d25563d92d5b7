"""The audit log's sequencer: a thread per server process that moves queued entries into the
Merkle log in batches.

``optout serve`` starts one in every gunicorn worker. Workers take turns through the log's
append lock, so running several is safe; an idle sequencer costs one small query per interval.
While it runs, ``server.auditlog.append`` queues entries instead of taking the lock on the
request path. An entry is provable once sequenced, normally within ``AUDIT_SEQUENCE_INTERVAL``
seconds; signing a checkpoint always sequences first, so a checkpoint covers every change
committed before it.
"""

from __future__ import annotations

import logging
import threading

from flask import Flask

from server import auditlog
from server.db import db
from server.models import AuditQueue

log = logging.getLogger(__name__)


class Sequencer:
    def __init__(self, interval: float, batch: int = auditlog.SEQUENCE_BATCH):
        self.interval = interval
        self.batch = batch
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Sequencer:
        auditlog.set_queueing(True)
        self._thread = threading.Thread(target=self._run, name="optout-sequencer", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop, then sequence what is left, and go back to sequencing at once."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        auditlog.set_queueing(False)
        self.run_once()

    def run_once(self) -> int:
        """Sequence everything queued now; return how many entries moved."""
        moved = 0
        with db.connection_context():
            while AuditQueue.select().exists():  # cheap check before taking the lock
                with db.atomic():
                    step = auditlog.sequence(self.batch)
                moved += step
                if step < self.batch:
                    break
        return moved

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.run_once()
            except Exception:  # keep going: entries stay queued and are retried
                log.exception("the audit sequencer failed; queued entries will be retried")


def start(app: Flask) -> Sequencer | None:
    """Start a sequencer for this process if the app's configuration asks for one."""
    interval = float(app.config["AUDIT_SEQUENCE_INTERVAL"])
    if interval <= 0:
        return None
    return Sequencer(interval).start()
