"""``optout audit``: checkpoints, sequencing and verification of the signed audit log."""

from __future__ import annotations

import json
import sys

import click
from flask.cli import with_appcontext

from server.cli_support import connection, fails_cleanly, progress_bar


@click.group()
def audit() -> None:
    """The signed, tamper-evident audit log."""


@audit.command("checkpoint")
@with_appcontext
@fails_cleanly
def audit_checkpoint() -> None:
    """Sign and store a checkpoint of the log now; print the signed note.

    \b
    Example:
      optout audit checkpoint > checkpoint.txt
    """
    from server.checkpoints import publish

    with connection():
        click.echo(publish().note, nl=False)


@audit.command("sequence")
@with_appcontext
@fails_cleanly
def audit_sequence() -> None:
    """Move queued entries into the log now.

    Every `optout serve` worker does this by itself within a fraction of a second; use it
    when entries were queued by a server that is no longer running.

    \b
    Example:
      optout audit sequence
    """
    from server import auditlog
    from server.sequencer import Sequencer

    with connection():
        moved = Sequencer(interval=0).run_once()
        size = auditlog.size()
    click.echo(f"sequenced {moved} entries; the log holds {size}")


@audit.command("verify")
@click.option("--remote", metavar="URL", help="Verify a running server's log from outside.")
@click.option("--state", "state_file", type=click.Path(dir_okay=False),
              help="With --remote: where the last verified checkpoint is kept.")
@click.option("--trust", multiple=True, metavar="VKEY",
              help="With --remote, on the first run: the verifier key to pin.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@with_appcontext
def audit_verify(remote: str | None, state_file: str | None, trust: tuple[str, ...],
                 as_json: bool) -> None:
    """Recompute the log and check every hash, checkpoint and signature.

    Without --remote it reads this instance's database and names the first bad index. With
    --remote it fetches the server's checkpoint, demands a consistency proof from the one
    saved in --state, checks every new entry, and saves the new checkpoint only if all passed.

    \b
    Example:
      optout audit verify
      optout audit verify --remote https://optout.example --state log.json \\
          --trust "$(optout keys show)"
    """
    if remote:
        _verify_remote(remote, state_file, list(trust), as_json)
    else:
        _verify_local(as_json)


def _verify_local(as_json: bool) -> None:
    from server.checkpoints import origin, signer, trusted_verifiers
    from server.errors import ApiError
    from server.log_verify import verify_log
    from shared.note import NoteError

    with connection():
        try:
            pinned = signer().verifier
        except ApiError as error:
            click.echo(f"error: {error.message}", err=True)
            sys.exit(2)
        try:
            trusted, key_problem = trusted_verifiers(pinned), None
        except NoteError as error:
            # A retired-key row that its rotation note does not vouch for is tampering (exit 1,
            # not a usage error): say so, and trust only the pinned key.
            trusted, key_problem = [pinned], f"retired keys: {error}"
        with progress_bar(_log_size(), "verifying") as update:
            report = verify_log(trusted, origin(), progress=update)
    if key_problem:
        report.problems.insert(0, key_problem)
    if as_json:
        click.echo(json.dumps({"ok": report.ok, "size": report.size,
                               "checkpoints": report.checkpoints,
                               "queued": report.queued,
                               "first_bad_index": report.first_bad_index,
                               "problems": report.problems}))
    elif report.ok:
        click.echo(f"ok: {report.size} entries, {report.checkpoints} checkpoints verified")
        if report.queued:
            click.echo(f"{report.queued} committed entries wait for the sequencer "
                       "('optout audit sequence' moves them now)")
    if not report.ok:
        where = (f" (first bad index {report.first_bad_index})"
                 if report.first_bad_index is not None else "")
        click.echo(f"error: the log does not verify{where}: {report.problems[0]}", err=True)
        sys.exit(1)


def _log_size() -> int:
    from server.models import LogEntry

    return LogEntry.select().count()


def _verify_remote(url: str, state_file: str | None, trust: list[str], as_json: bool) -> None:
    from pathlib import Path

    from shared.log_client import LogVerificationError, verify_remote
    from shared.note import NoteError

    if not state_file:
        click.echo("error: --remote needs --state FILE", err=True)
        sys.exit(2)
    try:
        state = verify_remote(url, Path(state_file), trust or None)
    except LogVerificationError as error:
        click.echo(f"error: {error.message} [{error.code}]", err=True)
        sys.exit(1)
    except (NoteError, ValueError, OSError) as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    if as_json:
        click.echo(json.dumps({"ok": True, "size": state.size}))
    else:
        click.echo(f"ok: {state.size} entries verified; checkpoint saved in {state_file}")
