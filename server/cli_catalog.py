"""``optout catalog``: load dataset releases so that owners can look themselves up."""

from __future__ import annotations

import json
import os

import click
from flask.cli import with_appcontext

from server.cli_support import connection, fails_cleanly, progress_bar


@click.group()
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

    with connection(), _progress(file) as progress:
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

    with connection():
        rows = list_releases()
    if as_json:
        click.echo(json.dumps(rows, default=str))
        return
    for row in rows:
        click.echo(
            f"{row['name']}\t{row['repositories']} repositories\t{row['files']} files\t"
            f"loaded {row['loaded_at']:%Y-%m-%d %H:%M}"
        )
