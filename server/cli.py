"""The ``optout`` command line: one group holding every command.

Commands that report print plain text for people and JSON with ``--json``. Exit codes:
0 success, 1 a check failed, 2 usage or input error (one line on stderr).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from server.errors import ApiError


def _create_app():
    from server import create_app

    return create_app()


@click.group(
    cls=FlaskGroup,
    create_app=_create_app,
    add_default_commands=False,
    add_version_option=False,
    load_dotenv=False,
)
def main() -> None:
    """Optout: governance for code datasets.

    \b
    Example:
      optout init && optout serve --port 8000
    """


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


def _connection():
    from server.db import connection

    return connection()


# --- database -------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database schema management."""


@db.command("upgrade")
@with_appcontext
@fails_cleanly
def db_upgrade() -> None:
    """Apply pending migrations (idempotent, in one transaction).

    \b
    Example:
      OPTOUT_DATABASE_URL=postgresql://postgres@127.0.0.1/optout optout db upgrade
    """
    from server.db import db as database
    from server.migrate import upgrade

    applied = upgrade(database.obj)
    click.echo(
        f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else "")
    )


@db.command("status")
@with_appcontext
@fails_cleanly
def db_status() -> None:
    """List migrations and whether each is applied.

    \b
    Example:
      optout db status
    """
    from server.db import db as database
    from server.migrate import runner

    with _connection():
        for m in runner(database.obj).status():
            click.echo(f"{m.name}\t{'applied ' + str(m.applied) if m.applied else 'pending'}")


# --- keys -----------------------------------------------------------------------------


@main.group()
def keys() -> None:
    """The Ed25519 signing key of this instance."""


@keys.command("init")
@with_appcontext
@fails_cleanly
def keys_init() -> None:
    """Create the signing key (0600) if there is none; print its verifier key.

    \b
    Example:
      optout keys init
    """
    from shared import keys as keyfiles

    path = current_app.config["SIGNING_KEY_FILE"]
    if os.path.exists(path):
        key = keyfiles.load_private_key(path)
        click.echo(f"signing key exists: {path}", err=True)
    else:
        key = keyfiles.create_private_key(path)
        click.echo(f"created signing key: {path}", err=True)
    click.echo(keyfiles.verifier_key(current_app.config["ORIGIN"], keyfiles.public_bytes(key)))


@keys.command("show")
@with_appcontext
@fails_cleanly
def keys_show() -> None:
    """Print the verifier key that clients pin.

    \b
    Example:
      optout keys show > optout.pub
    """
    from shared import keys as keyfiles

    key = keyfiles.load_private_key(current_app.config["SIGNING_KEY_FILE"])
    click.echo(keyfiles.verifier_key(current_app.config["ORIGIN"], keyfiles.public_bytes(key)))


@keys.command("rotate")
@click.option("--yes", is_flag=True, help="Do not ask for the typed confirmation.")
@with_appcontext
@fails_cleanly
def keys_rotate(yes: bool) -> None:
    """Replace the signing key; the rotation is logged and signed by both keys.

    The old key is kept beside the new one as signing.key.<keyid>.retired. Clients that pinned
    the old key follow the rotation note to the new one.

    \b
    Example:
      optout keys rotate --yes
    """
    from server.checkpoints import rotate_key

    if not yes:
        click.confirm("Rotate the signing key of this instance?", abort=True, err=True)
    with _connection():
        old, new = rotate_key(actor="cli")
    click.echo(f"retired: {old}", err=True)
    click.echo(new)


# --- audit log ------------------------------------------------------------------------


@main.group()
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

    with _connection():
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

    with _connection():
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

    with _connection():
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


# --- users ----------------------------------------------------------------------------


@main.group()
def users() -> None:
    """Reviewer accounts and their tokens."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["reviewer", "publisher", "admin"]), required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the account and token as JSON.")
@with_appcontext
@fails_cleanly
def users_add(name: str, role: str, as_json: bool) -> None:
    """Create an account and print its token once (it is stored only hashed).

    \b
    Example:
      optout users add alice --role reviewer
    """
    from server.workflows.users import add_user

    with _connection():
        user, token = add_user(name, role, actor="cli")
    if as_json:
        click.echo(json.dumps({"name": user.name, "role": user.role, "token": token}))
    else:
        click.echo(f"created {user.role} {user.name!r}; token (shown once):", err=True)
        click.echo(token)


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@with_appcontext
@fails_cleanly
def users_list(as_json: bool) -> None:
    """List accounts (tokens are never shown).

    \b
    Example:
      optout users list --json
    """
    from server.serialize import user_dict
    from server.workflows.users import list_users

    with _connection():
        rows = [user_dict(u) for u in list_users()]
    if as_json:
        click.echo(json.dumps(rows, default=str))
        return
    for row in rows:
        status = f"revoked {row['revoked_at']:%Y-%m-%d}" if row["revoked_at"] else "active"
        click.echo(f"{row['name']}\t{row['role']}\t{status}")


@users.command("revoke")
@click.argument("name")
@click.option("--reason", help="Why the token is revoked (kept in the audit log).")
@with_appcontext
@fails_cleanly
def users_revoke(name: str, reason: str | None) -> None:
    """Revoke an account's token at once.

    \b
    Example:
      optout users revoke alice --reason "left the team"
    """
    from server.workflows.users import revoke_user

    with _connection():
        user = revoke_user(name, actor="cli", reason=reason)
    click.echo(f"revoked {user.name}")


# --- catalog --------------------------------------------------------------------------


@main.group()
def catalog() -> None:
    """The dataset catalog: which releases include which repositories."""


def _progress(stream):
    """A progress bar over the bytes of ``stream`` on a terminal."""
    try:
        size = os.fstat(stream.fileno()).st_size
    except (OSError, ValueError):  # not a real file
        size = 0
    return progress_bar(size, "loading")


@catalog.command("load")
@click.argument("file", type=click.File("rb"))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@with_appcontext
@fails_cleanly
def catalog_load(file, as_json: bool) -> None:
    """Load a release manifest (JSON Lines; FILE '-' reads stdin), replacing each release it names.

    Each line is {"host", "owner", "name", "release", "files"}. Releases the file does not
    name are left as they are; a bad line aborts the load and nothing changes.

    \b
    Example:
      optout catalog load stack-v2.jsonl
      zcat stack-v2.jsonl.gz | optout catalog load - --json
    """
    from server.workflows.catalog import load_catalog

    with _connection(), _progress(file) as progress:
        summary = load_catalog(file, progress=progress, actor="cli")
    if as_json:
        click.echo(json.dumps(summary))
        return
    if not summary["releases"]:
        click.echo("the file names no release; nothing changed")
    for release in summary["releases"]:
        was = release["previous"]
        before = f"was {was['repositories']} repositories, {was['files']} files" if was else "new"
        click.echo(
            f"{release['name']}: {release['repositories']} repositories, "
            f"{release['files']} files ({before})"
        )


@catalog.command("releases")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@with_appcontext
@fails_cleanly
def catalog_releases(as_json: bool) -> None:
    """List the loaded releases, the most recently first-loaded first.

    \b
    Example:
      optout catalog releases --json
    """
    from server.workflows.catalog import list_releases

    with _connection():
        rows = list_releases()
    if as_json:
        click.echo(json.dumps(rows, default=str))
        return
    for row in rows:
        click.echo(
            f"{row['name']}\t{row['repositories']} repositories\t{row['files']} files\t"
            f"loaded {row['loaded_at']:%Y-%m-%d %H:%M}"
        )


# --- set-up and serving ---------------------------------------------------------------


@main.command("init")
@click.option(
    "--admin",
    "admin_name",
    default="admin",
    show_default=True,
    help="Name of the first admin account, created only if no admin exists.",
)
@click.pass_context
@with_appcontext
@fails_cleanly
def init(ctx: click.Context, admin_name: str) -> None:
    """Prepare an instance: migrate, create the signing key, and a first admin token.

    \b
    Example:
      OPTOUT_INSTANCE=/srv/optout optout init
    """
    from server.workflows.users import add_user, has_admin

    ctx.invoke(db_upgrade)
    if not os.path.exists(current_app.config["SIGNING_KEY_FILE"]):
        ctx.invoke(keys_init)
    with _connection():
        if has_admin():
            return
        _user, token = add_user(admin_name, "admin", actor="cli")
    click.echo(f"first admin {admin_name!r} created; its token is shown only now:", err=True)
    click.echo(token)


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--workers",
    default=2,
    show_default=True,
    type=click.IntRange(1, 64),
    help="gunicorn worker processes",
)
@click.option(
    "--threads", default=4, show_default=True, type=click.IntRange(1, 64), help="threads per worker"
)
@with_appcontext
@fails_cleanly
def serve(host: str, port: int, workers: int, threads: int) -> None:
    """Serve the API with gunicorn (refuses to start with pending migrations).

    \b
    Example:
      optout serve --host 0.0.0.0 --port 8000 --workers 4
    """
    from server.db import db as database
    from server.gunicorn import run
    from server.migrate import pending

    with _connection():
        waiting = pending(database.obj)
    if waiting:
        raise ApiError(
            503,
            "migrations_pending",
            f"{len(waiting)} migration(s) pending; run 'optout db upgrade' first",
        )
    run(host, port, workers, threads)


# Detection only: 'optout licenses scan' needs neither the app nor a database.
from server.cli_licenses import licenses as _licenses  # noqa: E402

main.add_command(_licenses)

# Detection and redaction only: 'optout pii scan|redact' need neither the app nor a database.
from server.cli_pii import pii as _pii  # noqa: E402

main.add_command(_pii)

# FlaskGroup adds --app/--env-file/--debug; this CLI always builds its own app.
main.params = [p for p in main.params if p.name not in {"app", "env_file", "debug"}]

# Publishing needs the app; pulling needs neither the app nor a database.
from server.cli_exclusions import exclusions as _exclusions  # noqa: E402

main.add_command(_exclusions)

# The reviewer app runs in a process of its own: 'optout desktop' only starts it.
from server.cli_desktop import desktop as _desktop  # noqa: E402

main.add_command(_desktop)

# Dataset rebuilds read checkouts and a pulled list; they need neither the app nor a database.
from server.cli_rebuild import rebuild as _rebuild  # noqa: E402

main.add_command(_rebuild)

# Free-text intake: 'optout intake export|train-tiny|propose|status|gateway-token'.
from server.cli_intake import intake as _intake  # noqa: E402

main.add_command(_intake)
