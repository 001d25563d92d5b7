"""The ``optout`` command line: one group holding every command.

Commands that report print plain text for people and JSON with ``--json``. Exit codes:
0 success, 1 a check failed, 2 usage or input error (one line on stderr).
"""

from __future__ import annotations

import os

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from server.cli_support import connection as _connection
from server.cli_support import fails_cleanly, progress_bar  # noqa: F401  (used by cli_* modules)
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


from server.cli_audit import audit as _audit  # noqa: E402
from server.cli_catalog import catalog as _catalog  # noqa: E402
from server.cli_users import users as _users  # noqa: E402

main.add_command(_audit)
main.add_command(_users)
main.add_command(_catalog)

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
