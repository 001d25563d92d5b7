"""Start the reviewer app: ``optout desktop`` or ``optout-desktop``."""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication

from desktop.store import Store, default_config_dir, system_keyring
from desktop.window import MainWindow


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="optout-desktop",
        description="The Optout reviewer app. Example: optout-desktop --server "
        "https://optout.example.org",
    )
    parser.add_argument("--server", help="the server's address (remembered for next time)")
    parser.add_argument(
        "--config-dir",
        type=Path,
        default=None,
        help="where settings, a remembered token and audit state are kept",
    )
    return parser.parse_args(argv)


def build_window(
    config_dir: Path | None = None, server: str | None = None, keyring=None
) -> MainWindow:
    """The main window over a store in ``config_dir``; connects at once if a token is kept.

    ``keyring`` (``store.system_keyring()`` in the app) keeps the token instead of a file.
    """
    store = Store(config_dir or default_config_dir(), keyring)
    if server:
        store.set("server", server.rstrip("/"))
    window = MainWindow(store)
    view = window.connect_view
    if server:
        view.server.setText(server.rstrip("/"))
        view.token.setText(store.load_token(server.rstrip("/")) or "")
    if view.token.text():
        view.connect_now()
    return window


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    folder = args.config_dir or default_config_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        print(f"error: cannot use {folder} for settings: {error.strerror or error}",
              file=sys.stderr)
        return 2
    args.config_dir = folder
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("optout-desktop")
    app.setOrganizationName("optout")
    window = build_window(args.config_dir, args.server, system_keyring())
    window.show()
    # What start-up made lives as long as the app: keep it out of every full collection,
    # which would otherwise stall the window for the time it takes to walk it.
    gc.freeze()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
