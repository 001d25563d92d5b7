"""``optout pii decisions export`` and ``optout pii ingest``: the review side, on the database.

Unlike ``pii scan|redact`` these build the app from the instance folder, like ``optout db``.
"""

from __future__ import annotations

import functools
import json
import sys

import click
from flask.cli import with_appcontext


def fails_cleanly(command):
    """``server.cli.fails_cleanly``, looked up late: ``server.cli`` imports this module."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from server.cli import fails_cleanly as clean

        return clean(command)(*args, **kwargs)

    return wrapper


@click.group("decisions")
def decisions() -> None:
    """Reviewers' decisions on findings (confirmed, false_positive).

    \b
    Example:
      optout pii decisions export --out decisions.jsonl
    """


@decisions.command("export")
@click.option(
    "--out",
    "out",
    type=click.File("w", encoding="utf-8", atomic=True),
    default="-",
    show_default=True,
    help="Where to write the JSON Lines ('-': standard output).",
)
@with_appcontext
@fails_cleanly
def decisions_export(out) -> None:
    """Write every decision as JSON Lines: {"fingerprint", "rule", "decision"}.

    This is the file 'optout pii redact --decisions' reads: values decided false_positive
    are left in place, everything else found is redacted.

    \b
    Example:
      optout pii decisions export --out decisions.jsonl
      optout pii redact ./checkout ./checkout-redacted --decisions decisions.jsonl
    """
    from server.workflows.pii import export_decisions

    count = 0
    for decision in export_decisions():
        out.write(json.dumps(decision, separators=(",", ":")) + "\n")
        count += 1
    if out is not sys.stdout and getattr(out, "name", "-") != "<stdout>":
        click.echo(f"exported {count} decision(s)", err=True)


@click.command("ingest")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--actor", default="cli", show_default=True, help="Who ingests, for the record.")
@with_appcontext
@fails_cleanly
def ingest(file, actor: str) -> None:
    """Store findings with their context from JSON Lines (FILE '-' reads stdin).

    Each line is a finding as 'optout pii scan --json' prints it plus "host", "owner",
    "name" and "context": {"text": a few lines around the value, "value_start": where the
    value starts in them}. The context is encrypted before it is stored. The file is stored
    in one transaction: a bad line aborts it and nothing changes.

    \b
    Example:
      optout pii ingest findings.jsonl
    """
    from marshmallow import ValidationError

    from server.schemas_pii import PiiFindingInSchema
    from server.workflows.pii import ingest_findings

    schema, items = PiiFindingInSchema(), []
    for number, line in enumerate(file, 1):
        if not line.strip():
            continue
        try:
            items.append(schema.load(json.loads(line)))
        except ValueError as error:
            raise ValueError(f"line {number}: not JSON ({error})") from None
        except ValidationError as error:
            raise ValueError(f"line {number}: {_first_error(error.messages)}") from None
    if not items:
        raise ValueError("no findings in the file")
    results = ingest_findings(items, actor)
    counts = {s: sum(1 for r in results if r["status"] == s) for s in ("created", "linked")}
    unchanged = len(results) - sum(counts.values())
    click.echo(f"{counts['created']} created, {counts['linked']} linked, {unchanged} unchanged")


def _first_error(messages, path: str = "") -> str:
    if isinstance(messages, dict):
        key, value = next(iter(messages.items()))
        return _first_error(value, f"{path}.{key}" if path else str(key))
    if isinstance(messages, list) and messages and not isinstance(messages[0], str):
        return _first_error(messages[0], path)
    text = messages[0] if isinstance(messages, list) and messages else str(messages)
    return f"{path}: {text}"
