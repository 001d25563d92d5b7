"""``optout users``: reviewer, publisher and admin accounts and their tokens."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from server.cli_support import connection, fails_cleanly


@click.group()
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

    with connection():
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

    with connection():
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

    with connection():
        user = revoke_user(name, actor="cli", reason=reason)
    click.echo(f"revoked {user.name}")
