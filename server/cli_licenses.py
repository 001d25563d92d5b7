"""``optout licenses``: detection on a checkout (no app needed); verdicts in the database.

``scan`` needs neither the app nor a database. ``ingest`` and ``export`` work on the
server's stored verdicts, so they build the app from the instance folder like ``optout db``.
"""

from __future__ import annotations

import json
import sys
from collections import Counter

import click
from flask import current_app
from flask.cli import with_appcontext


@click.group()
def licenses() -> None:
    """SPDX license detection and policy verdicts."""


@licenses.command("scan")
@click.argument("path", type=click.Path(file_okay=True, dir_okay=True, path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object for scripts.")
def licenses_scan(path: str, as_json: bool) -> None:
    """Detect the licenses of a checkout and judge them under the default policy.

    Prints the declared SPDX expression (the root directory's own license), the verdict
    (permissive, non_permissive, no_license or unknown), every piece of evidence with its
    score and detector, and the directories (vendored code) that carry their own license.

    \b
    Example:
      optout licenses scan ./checkout
      optout licenses scan ./checkout --json | jq .declared
    """
    from shared.licenses import scan_repository

    try:
        result = scan_repository(path)
    except FileNotFoundError:
        _fail(f"no such directory: {path}")
    except NotADirectoryError:
        _fail(f"not a directory: {path}")
    except OSError as error:
        _fail(f"cannot read {path}: {error.strerror or error}")
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        click.echo(_as_text(result))


def _fail(message: str):
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def _as_text(result) -> str:
    policy = result.policy
    admitted = "admitted" if result.admitted else "refused"
    lines = [
        f"declared: {result.declared or '(none)'}",
        f"verdict:  {result.verdict} ({admitted} by policy {policy.name} v{policy.version})",
        f"detector: {result.detector} {result.detector_version}",
    ]
    shown = [e for e in result.evidence if e.kind != "spdx_header"]
    headers = Counter(e.expression for e in result.evidence if e.kind == "spdx_header")
    if shown or headers:
        lines.append("evidence:")
        width = max((len(e.path) for e in shown), default=0)
        for item in shown:
            lines.append(
                f"  {item.path:<{width}}  {item.expression}  "
                f"(score {item.score:.2f}, {item.detector})"
            )
        if headers:
            summary = ", ".join(f"{expr} x{count}" for expr, count in headers.most_common(5))
            lines.append(f"  SPDX-License-Identifier headers in {headers.total()} files: {summary}")
    others = [s for s in result.scopes if s.path]
    if others:
        lines.append("scopes with their own license (not part of 'declared'):")
        for scope in others:
            vendored = ", vendored" if scope.vendored else ""
            lines.append(f"  {scope.path}/  {scope.expression}  ({scope.verdict}{vendored})")
    if result.truncated:
        lines.append(f"note: stopped after {result.files_scanned} files")
    return "\n".join(lines)


# --- verdicts in the database -----------------------------------------------------------

MAX_INGEST_LINE = 8 * 1024 * 1024


@licenses.command("ingest")
@click.argument("file", type=click.File("rb"))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@with_appcontext
def licenses_ingest(file, as_json: bool) -> None:
    """Store license verdicts from scans (JSON Lines; FILE '-' reads stdin).

    Each line is {"host", "owner", "name", "scan"}, "scan" being the object that
    'optout licenses scan --json' prints. Every expression is validated again and the
    verdict judged again under the server's policy; a scan already stored changes nothing.
    The file is stored in one transaction: a bad line aborts it and nothing changes.

    \b
    Example:
      optout licenses scan ./hello --json | jq -c '{host: "github.com", owner: "octocat",
        name: "hello", scan: .}' > scans.jsonl
      optout licenses ingest scans.jsonl
    """
    from server.db import connection
    from server.errors import ApiError
    from server.workflows.licenses import ingest_scans

    items, lines = _read_scans(file)
    try:
        with connection():
            results = ingest_scans(items, actor="cli")
    except ApiError as error:
        index = error.details.get("index")
        where = f"line {lines[index]}: " if index is not None else ""
        message = error.message.split(": ", 1)[-1] if index is not None else error.message
        _fail(f"{where}{message} [{error.code}]")
    created = sum(1 for r in results if r["status"] == "created")
    summary = {"scans": len(results), "created": created, "unchanged": len(results) - created}
    if as_json:
        click.echo(json.dumps(summary))
    else:
        click.echo(f"{summary['scans']} scan(s): {created} new verdict(s), "
                   f"{summary['unchanged']} unchanged")


def _read_scans(file) -> tuple[list[dict], list[int]]:
    """Parse and schema-check every line; return the items and their line numbers."""
    from marshmallow import ValidationError

    from server.schemas_licenses import ScanItemSchema

    schema = ScanItemSchema()
    items, lines = [], []
    number = 0
    while True:
        raw = file.readline(MAX_INGEST_LINE + 1)
        if not raw:
            break
        number += 1
        if len(raw) > MAX_INGEST_LINE:
            _fail(f"line {number}: longer than {MAX_INGEST_LINE} bytes")
        if not raw.strip():
            continue
        try:
            items.append(schema.load(json.loads(raw)))
        except (ValueError, TypeError) as error:  # includes UnicodeDecodeError
            _fail(f"line {number}: not valid JSON ({error})")
        except ValidationError as error:
            _fail(f"line {number}: does not match the scan format: "
                  f"{json.dumps(error.messages, sort_keys=True)}")
        lines.append(number)
    return items, lines


@licenses.command("export")
@click.option("--repository", metavar="HOST/OWNER/NAME", help="Export this repository.")
@click.option("--release", metavar="NAME", help="Export every repository of a loaded release.")
@click.option("--out", "out_dir", required=True, metavar="DIR",
              type=click.Path(file_okay=False, writable=True),
              help="Where to write (DIR/host/owner/name.spdx.json and .spdx).")
@click.option("--format", "fmt", type=click.Choice(["json", "tag-value", "both"]),
              default="both", show_default=True, help="SPDX JSON, tag-value, or both.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@with_appcontext
def licenses_export(repository: str | None, release: str | None, out_dir: str, fmt: str,
                    as_json: bool) -> None:
    """Write SPDX 2.3 documents of license verdicts, one per repository.

    Each document describes the repository as one package whose declared license is what
    the last scan found and whose concluded license is the current verdict (a reviewer's
    override, if any). Documents pass spdx-tools' validator with no message or are not
    written; files are replaced atomically. A release's repositories without a verdict get
    NOASSERTION.

    \b
    Example:
      optout licenses export --repository github.com/octocat/hello --out spdx/
      optout licenses export --release v2 --out spdx/ --format json
    """
    from server.db import connection
    from server.errors import ApiError
    from server.spdx_export import FORMATS, ExportError, Subject, export
    from server.workflows import licenses as workflow

    if (repository is None) == (release is None):
        _fail("give --repository HOST/OWNER/NAME or --release NAME (one of them)")
    try:
        key = _repository_key(repository) if repository else None
        with connection():
            subjects = [
                Subject(host, owner, name, verdict,
                        workflow.scanned_expression(verdict) if verdict else None)
                for host, owner, name, verdict in workflow.repositories_for_export(key, release)
            ]
            written = export(subjects, out_dir, FORMATS[fmt], current_app.config["PUBLIC_URL"])
    except ApiError as error:
        _fail(f"{error.message} [{error.code}]")
    except (ExportError, OSError) as error:
        _fail(str(error))
    missing = sum(1 for s in subjects if s.verdict is None)
    summary = {"repositories": len(subjects), "documents": [str(p) for p in written],
               "without_verdict": missing}
    if as_json:
        click.echo(json.dumps(summary))
        return
    note = f" ({missing} without a verdict: NOASSERTION)" if missing else ""
    click.echo(f"wrote {len(written)} document(s) for {len(subjects)} repositories "
               f"to {out_dir}{note}")


def _repository_key(text: str):
    from server.workflows.licenses import repository_key

    host, _, rest = text.strip().strip("/").partition("/")
    owner, _, name = rest.rpartition("/")
    if not host or not owner or not name:
        _fail(f"--repository must be HOST/OWNER/NAME, not {text!r}")
    return repository_key(host, owner, name)
