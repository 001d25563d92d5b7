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

    Sends If-None-Match with the ETag of the last verified manifest; on 304 the kept list is
    checked again (signature, body hash, expiry, --max-age) and an expired one still fails.

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
    what = ("verified" if result.updated else
            "up to date (not modified)" if result.not_modified else "up to date")
    click.echo(f"{what}: version {result.manifest.version}, expires "
               f"{result.manifest.expires:%Y-%m-%d}; body {result.body_path}")


@exclusions.command("apply")
@click.option("--list", "state_dir", required=True, type=click.Path(file_okay=False),
              help="The pull state directory holding the verified list.")
@click.option("--trust", "trust_file", type=click.Path(exists=True, dir_okay=False),
              help="Pinned verifier keys (default: <list>/trust.pub).")
@click.argument("inputs", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--max-age", "max_age", type=click.FloatRange(min=0), default=None,
              help="Refuse a list issued more than this many days ago.")
@click.option("--host-column", default="host", show_default=True)
@click.option("--default-host", default=None, help="Host for every row when the data has no "
              "host column (then pass --host-column '').")
@click.option("--owner-column", default="owner", show_default=True)
@click.option("--name-column", default="name", show_default=True)
@click.option("--repository-column", default=None,
              help="One 'owner/name' column instead of --owner-column and --name-column.")
@click.option("--path-column", default="path", show_default=True)
@click.option("--content-column", default="blob_id", show_default=True,
              help="Git blob SHA-1 or swh:1:cnt: SWHID of each file.")
@click.option("--report", "report_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the JSON report here.")
def apply(state_dir: str, trust_file: str | None, inputs: tuple[Path, ...], out_dir: Path,
          max_age: float | None, host_column: str, default_host: str | None,
          owner_column: str, name_column: str, repository_column: str | None,
          path_column: str, content_column: str, report_file: Path | None) -> None:
    """Filter Parquet / JSON Lines shards with the verified list into --out (same names).

    Fails closed: without a verified, unexpired list nothing is written (exit codes as for
    pull: 7 expired, 8 hash mismatch, 4 bad signature, 12 no list). Missing columns exit 2.
    Prints a JSON report: rows removed per rule, rows in/out per shard.

    \b
    Example:
      optout exclusions apply --list /var/lib/optout/exclusions --trust optout.pub \\
          data/*.parquet --out clean/ --report clean/exclusions.json
    """
    import json

    from shared.exclusions.apply import (
        ApplyError,
        BatchMatcher,
        Columns,
        Report,
        apply_shard,
        check_columns,
        plan_outputs,
    )
    from shared.exclusions.pull import PullError, load_verified

    trust_path = Path(trust_file) if trust_file else Path(state_dir) / "trust.pub"
    keys = ([line.strip() for line in trust_path.read_text().splitlines()
             if line.strip() and not line.startswith("#")] if trust_path.is_file() else [])
    if not keys:
        click.echo(f"error: no verifier key in {trust_path}: pass --trust KEYFILE", err=True)
        sys.exit(2)
    try:
        manifest, matcher = load_verified(state_dir, keys, max_age_days=max_age)
    except PullError as error:
        click.echo(f"error: {error} [{error.code}]; nothing written", err=True)
        sys.exit(error.exit_code)
    if not host_column and not default_host:
        click.echo("error: without --host-column pass --default-host", err=True)
        sys.exit(2)
    columns = Columns(host=host_column or None, owner=owner_column, name=name_column,
                      path=path_column, content=content_column,
                      repository=repository_column, default_host=default_host)
    batches = BatchMatcher(matcher, columns)
    try:
        pairs = plan_outputs(list(inputs), out_dir)
        for source, _ in pairs:
            check_columns(source, columns.required(matcher))
    except ApplyError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = Report(list_version=manifest.version)
    # Rows when every shard is Parquet (the footer says how many); shards otherwise.
    hints = [_rows_hint(source) for source, _ in pairs]
    by_rows = None not in hints
    with click.progressbar(length=sum(hints) if by_rows else len(pairs),  # type: ignore[arg-type]
                           label="rows" if by_rows else "shards", file=sys.stderr,
                           show_pos=True) as bar:
        for source, target in pairs:
            try:
                apply_shard(batches, source, target, report,
                            bar.update if by_rows else lambda n: None)
                if not by_rows:
                    bar.update(1)
            except (ApplyError, OSError, ValueError) as error:
                click.echo(f"\nerror: {source}: {error}", err=True)
                sys.exit(1)
    text = json.dumps(report.as_json(matcher), indent=2, sort_keys=True)
    if report_file:
        report_file.write_text(text + "\n")
    click.echo(text)


def _rows_hint(path: Path) -> int | None:
    """Rows in a Parquet shard from its footer; None (unknown) for JSON Lines."""
    if path.name.lower().endswith(".parquet"):
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    return None
