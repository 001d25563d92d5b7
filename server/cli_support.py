"""What every `optout` command shares: one-line errors, progress bars, a held connection."""

from __future__ import annotations

import contextlib
import functools
import sys

import click

from server.errors import ApiError


@contextlib.contextmanager
def progress_bar(length: int, label: str):
    """Yield a progress callback drawing a bar on stderr when it is a terminal, else None.

    Off a terminal nothing is printed, so a failing command still prints exactly one line.
    """
    if not length or not sys.stderr.isatty():
        yield None
        return
    with click.progressbar(length=length, label=label, file=sys.stderr) as bar:
        yield bar.update


def fails_cleanly(command):
    """Turn expected errors into one line on stderr and exit code 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except ApiError as error:
            click.echo(f"error: {error.message} [{error.code}]", err=True)
            sys.exit(2)
        except (OSError, ValueError) as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(2)

    return wrapper


def connection():
    from server.db import connection

    return connection()
