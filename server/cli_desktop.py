"""``optout desktop``: start the reviewer app in its own process (no Flask in the GUI)."""

from __future__ import annotations

import importlib.util
import os
import sys

import click


@click.command("desktop", context_settings={"ignore_unknown_options": True})
@click.option("--server", metavar="URL", help="The server's address (remembered next time).")
@click.option("--config-dir", type=click.Path(file_okay=False), default=None,
              help="Where settings, a kept token and audit state live (default: per user).")
def desktop(server: str | None, config_dir: str | None) -> None:
    """Start the desktop reviewer app (PySide6): triage, PII, licenses, publish, audit.

    \b
    Example:
      optout desktop --server https://optout.example.org
    """
    if importlib.util.find_spec("PySide6") is None:
        click.echo("error: the desktop app needs PySide6: pip install 'optout[desktop]'",
                   err=True)
        sys.exit(2)
    argv = [sys.executable, "-m", "desktop"]
    if server:
        argv += ["--server", server]
    if config_dir:
        argv += ["--config-dir", config_dir]
    sys.stdout.flush()
    os.execv(sys.executable, argv)  # noqa: S606 (our own interpreter and options)
