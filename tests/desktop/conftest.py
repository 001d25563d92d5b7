"""Desktop fixtures: a real offscreen QApplication, the real server on loopback (SQLite), demo
data, and the main window with its settings in a temporary folder.

Any Qt warning fails the test (``qt_log_level_fail = WARNING`` in pyproject.toml). The only
message ignored is the offscreen platform's note that it cannot propagate size hints, which
says something about the test platform, not about the app.
"""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before anything loads Qt

import pytest  # noqa: E402

from tests.desktop.demo import fill_demo  # noqa: E402

OFFSCREEN_NOTES = ["This plugin does not support propagateSizeHints"]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/desktop/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.qt_log_ignore(*OFFSCREEN_NOTES))


@pytest.fixture
def database_url(tmp_path):
    """The desktop is tested against one backend: it sees only HTTP, and the server's own
    tests cover both."""
    return f"sqlite:///{tmp_path / 'optout.db'}"


@pytest.fixture
def demo(app, factory):
    return fill_demo(factory)


@pytest.fixture
def config_dir(tmp_path):
    return tmp_path / "desktop-config"


@pytest.fixture
def window(qtbot, config_dir):
    from desktop.store import Store
    from desktop.window import MainWindow

    win = MainWindow(Store(config_dir))
    qtbot.addWidget(win)
    win.show()
    yield win
    win.runner.wait(10_000)


def idle(qtbot, win, timeout=10_000):
    """Wait until no network task is running."""
    qtbot.waitUntil(lambda: win.runner.running == 0, timeout=timeout)


def connect(qtbot, win, server: str, token: str, remember: bool = False) -> None:
    view = win.connect_view
    view.server.setText(server)
    view.token.setText(token)
    view.remember.setChecked(remember)
    with qtbot.waitSignal(win.ctx.session_changed, timeout=10_000):
        view.button.click()
    idle(qtbot, win)
