"""``optout licenses``: license detection on a checkout. Needs no database and no app."""

from __future__ import annotations

import json
import sys
from collections import Counter

import click


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
