#!/usr/bin/env python3
"""Render screenshots of the desktop app's main views, offscreen, from the real app talking to
a real server (on loopback, temporary SQLite database) filled with demo data.

    .venv/bin/python scripts/desktop_screenshots.py [--out docs/screenshots]

Writes desktop-queue.png, desktop-pii.png, desktop-licenses.png, desktop-publish.png,
desktop-audit.png and desktop-intake.png.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
INTAKE_MESSAGE = (
    "Subject: please remove my repositories\n\n"
    "Hello, I found my code in your dataset. Please take out "
    "https://github.com/mkowalczyk/dotfiles and mkowalczyk/thesis-code (same account).\n"
    "Everything else may stay.\n\nBest regards,\nMariana"
)


def start_demo_server(folder: Path):
    """Build a migrated app with demo data and serve it from a thread; return URL and tokens."""
    from werkzeug.serving import make_server

    from server import create_app
    from server.auth import Principal
    from server.db import db
    from server.migrate import upgrade
    from server.workflows import exclusions
    from server.workflows import requests as workflow
    from shared import states
    from shared.keys import create_private_key
    from tests.desktop.demo import fill_demo

    os.environ["OPTOUT_INSTANCE"] = str(folder / "instance")
    create_private_key(folder / "instance" / "signing.key")
    app = create_app({"DATABASE_URL": f"sqlite:///{folder / 'demo.db'}",
                      "RATELIMIT_ENABLED": False})  # fmt: skip
    upgrade(db.obj)
    with app.app_context():
        demo = fill_demo()
        exclusions.publish("user:2", 30)  # version 1: the approved requests
        staff = Principal(states.PUBLISHER, "grace", user_id=2)
        gone = demo["requests"][("repository", states.PUBLISHED)]
        req = workflow.get_request(gone, staff)
        workflow.transition_request(gone, states.REVERTED, "owner asked to be included again",
                                    staff, {workflow.etag_of(req)})  # fmt: skip
        verified = demo["requests"][("repository", states.VERIFIED)]
        req = workflow.get_request(verified, staff)
        workflow.transition_request(verified, states.APPROVED, None, staff,
                                    {workflow.etag_of(req)})  # fmt: skip
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}", demo


def wait(app, until, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        app.processEvents()
        if until():
            for _ in range(5):  # let the layout settle
                app.processEvents()
                time.sleep(0.02)
            return
        time.sleep(0.01)
    raise TimeoutError("the view did not load in time")


def render(out: Path) -> list[Path]:
    from PySide6.QtWidgets import QApplication

    from desktop.intake_model import FIELD_COLUMNS
    from desktop.store import Store
    from desktop.window import MainWindow

    app = QApplication.instance() or QApplication([])
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        server, url, demo = start_demo_server(folder)
        window = MainWindow(Store(folder / "config"))
        window.resize(1440, 880)
        window.show()
        idle = lambda: window.runner.running == 0  # noqa: E731
        view = window.connect_view
        view.server.setText(url)
        view.token.setText(demo["publisher"])
        view.connect_now()
        wait(app, lambda: window.ctx.session is not None and idle())

        queue = window.queue
        queue.counts.set_selected([])
        queue.refresh()
        wait(app, lambda: queue.model.total is not None and idle())
        target = demo["requests"][("repository", "verified")] + 1  # mkowalczyk/dotfiles
        queue.select_row(queue.model.position_of(target))
        wait(app, lambda: queue.panel.data is not None and queue.panel.data["id"] == target
             and idle())  # fmt: skip
        queue.panel.tabs.setCurrentWidget(queue.panel.coverage)
        queue.table.setFocus()
        written.append(shot(app, window, out / "desktop-queue.png"))

        window.tabs.setCurrentWidget(window.pii)
        wait(app, lambda: window.pii.current is not None and idle())
        written.append(shot(app, window, out / "desktop-pii.png"))

        lic = window.licenses
        window.tabs.setCurrentWidget(lic)
        wait(app, lambda: lic.record is not None and idle())
        row = next(i for i, r in enumerate(lic.repositories.rows) if r["owner"] == "acme-corp")
        lic.list_view.selectRow(row)
        wait(app, lambda: lic.record["owner"] == "acme-corp" and idle())
        written.append(shot(app, window, out / "desktop-licenses.png"))

        window.tabs.setCurrentWidget(window.publish)
        wait(app, lambda: window.publish.preview is not None and idle())
        window.publish.confirm.setText("publ")
        written.append(shot(app, window, out / "desktop-publish.png"))

        audit = window.audit
        window.tabs.setCurrentWidget(audit)
        wait(app, lambda: bool(audit.entries.rows) and idle())
        audit.table.selectRow(0)
        audit.verify()
        wait(app, lambda: audit.status.text().startswith("<b>Verified") and idle())
        window.banner.hide()
        written.append(shot(app, window, out / "desktop-audit.png"))

        intake = window.intake
        window.tabs.setCurrentWidget(intake)
        intake.message.setPlainText(INTAKE_MESSAGE)
        intake.propose()
        wait(app, lambda: intake.result is not None and idle())
        intake.select_row(0, FIELD_COLUMNS["name"])  # its span is highlighted in the message
        written.append(shot(app, window, out / "desktop-intake.png"))
        window.close()
        server.shutdown()
    return written


def shot(app, window, path: Path) -> Path:
    for _ in range(5):
        app.processEvents()
    path.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(path)):
        raise OSError(f"could not write {path}")
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    render(parser.parse_args().out.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
