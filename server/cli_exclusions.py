"""``optout exclusions publish|pull``: publish signed lists on the server; pull and verify
them in pipelines (fail closed: no verified list, no build)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import with_appcontext


@click.group()
def exclusions() -> None:
    """Signed exclusion lists: publish on the server, pull and verify in pipelines."""


@exclusions.command("publish")
@click.option("--expires-days", default=30, show_default=True, type=click.IntRange(1, 365))
@click.option("--yes", is_flag=True, help="Do not ask for the typed confirmation.")
@with_appcontext
def publish(expires_days: int, yes: bool) -> None:
    """Publish the next list from approved requests; print the signed manifest.

    \b
    Example:
      optout exclusions publish --expires-days 14
    """
    from server.cli import fails_cleanly
    from server.db import connection
    from server.workflows import exclusions as workflow

    @fails_cleanly
    def run() -> None:
        with connection():
            preview = workflow.preview()
            click.echo(f"version {preview['next_version']}: {preview['rules']} rules, "
                       f"+{len(preview['added'])} -{len(preview['removed'])}, "
                       f"{len(preview['requests_to_publish'])} request(s) to publish", err=True)
            if not yes:
                typed = click.prompt("Type 'publish' to publish", err=True, default="")
                if typed != "publish":
                    click.echo("error: not published", err=True)
                    sys.exit(1)
            row = workflow.publish("cli", expires_days)
        click.echo(row.note, nl=False)

    run()


@exclusions.command("pull")
@click.option("--server", "server_url", required=True, metavar="URL")
@click.option("--trust", "trust_file", required=True, type=click.Path(exists=True, dir_okay=False),
              help="File of pinned verifier keys, one per line (optout keys show > FILE).")
@click.option("--state", "state_dir", required=True, type=click.Path(file_okay=False))
@click.option("--max-age", "max_age", type=click.FloatRange(min=0), default=None,
              help="Refuse a list issued more than this many days ago.")
def pull(server_url: str, trust_file: str, state_dir: str, max_age: float | None) -> None:
    """Fetch, verify and save the latest list; on any failure keep the last good one.

    Exit codes: 0 verified (or already up to date); 3 network, 4 bad signature, 5 rollback,
    6 fork, 7 expired, 8 hash mismatch, 9 oversize, 10 malformed, 11 broken prev chain,
    12 bad local state; 2 usage.

    \b
    Example:
      optout exclusions pull --server https://optout.example --trust optout.pub \\
          --state /var/lib/optout/exclusions --max-age 7
    """
    from shared.exclusions.pull import PullError
    from shared.exclusions.pull import pull as pull_list

    keys = [line.strip() for line in Path(trust_file).read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    if not keys:
        click.echo(f"error: {trust_file} holds no verifier key", err=True)
        sys.exit(2)
    try:
        result = pull_list(server_url, keys, state_dir, max_age_days=max_age)
    except PullError as error:
        click.echo(f"error: {error} [{error.code}]", err=True)
        sys.exit(error.exit_code)
    except ValueError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    what = "verified" if result.updated else "up to date"
    click.echo(f"{what}: version {result.manifest.version}, expires "
               f"{result.manifest.expires:%Y-%m-%d}; body {result.body_path}")
