"""``optout pii``: PII and secret detection and redaction. Needs no database and no app.

The fingerprint key comes from ``OPTOUT_PII_KEY`` (text); without it the public development
key is used and fingerprints will not match the decisions of a deployed server.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter

import click

KEY_VARIABLE = "OPTOUT_PII_KEY"


@click.group()
def pii() -> None:
    """Detect and redact e-mails, IP addresses, keys, passwords, cards and phone numbers.

    \b
    Example:
      optout pii scan ./checkout --json
      optout pii redact ./checkout ./checkout-redacted
    """


@pii.command("scan")
@click.argument("paths", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object for scripts.")
@click.option(
    "--sensitivity",
    default="2",
    show_default=True,
    help="1: high-confidence findings only; 2: also medium; 3: everything.",
)
@click.option(
    "--fail-on",
    default=None,
    metavar="TIER",
    help="Exit 1 when a finding of this tier or a more confident one (1-3) exists.",
)
def pii_scan(paths: tuple[str, ...], as_json: bool, sensitivity: str, fail_on: str | None):
    """Scan files and directories for PII and secrets; raw values are never printed.

    Each finding has its path, line, column, character span, kind, rule, confidence tier
    (1 high ... 3 low), a keyed fingerprint (set OPTOUT_PII_KEY) and a masked preview.
    Binary files are skipped; .git folders and symlinks are not followed.

    \b
    Example:
      optout pii scan ./checkout
      optout pii scan src/ config/.env --json --fail-on 1 | jq '.findings[].rule'
    """
    from shared.pii import Scanner, iter_files

    level = _tier(sensitivity, "--sensitivity")
    threshold = _tier(fail_on, "--fail-on") if fail_on is not None else None
    scanner = Scanner(key=_key(), sensitivity=level)
    findings, scanned = [], 0
    try:
        for path in iter_files(paths):
            findings.extend(scanner.scan_file(path))
            scanned += 1
    except FileNotFoundError as error:
        _fail(f"no such file or directory: {error.args[0]}")
    except OSError as error:
        _fail(f"cannot read {error.filename}: {error.strerror or error}")
    if as_json:
        document = {"findings": [f.to_json() for f in findings], "files_scanned": scanned}
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        click.echo(_as_text(findings, scanned))
    if threshold is not None and any(f.tier <= threshold for f in findings):
        sys.exit(1)


@pii.command("redact")
@click.argument("source")
@click.argument("target")
@click.option(
    "--decisions",
    "decisions_path",
    default=None,
    metavar="FILE",
    help="JSON Lines of reviewer decisions; values marked false_positive are kept.",
)
@click.option("--sensitivity", default="2", show_default=True, help="Tiers to redact (1-3).")
@click.option(
    "--placeholder",
    "overrides",
    multiple=True,
    metavar="KIND=TEXT",
    help="Replace a kind's placeholder, e.g. email='<EMAIL_{n}>' ({n} numbers values).",
)
@click.option(
    "--ip-placeholder",
    is_flag=True,
    help="Replace IP addresses with <IP_ADDRESS> instead of consistent private pseudonyms.",
)
def pii_redact(
    source: str,
    target: str,
    decisions_path: str | None,
    sensitivity: str,
    overrides: tuple[str, ...],
    ip_placeholder: bool,
) -> None:
    """Write a redacted copy of a file or directory tree (each file written atomically).

    Values become <EMAIL>, <IP_ADDRESS> (or a stable private pseudonym such as 10.23.4.7),
    <KEY>, <PASSWORD>, <CARD>, <PHONE>; only the value is replaced, never the quotes around
    it, and redacting the output again changes nothing. Files without findings and binary
    files are copied unchanged.

    \b
    Example:
      optout pii redact ./checkout ./checkout-redacted --decisions decisions.jsonl
    """
    from shared.pii import KINDS, Scanner, load_decisions, redact_file, redact_tree

    level = _tier(sensitivity, "--sensitivity")
    placeholders = {}
    for item in overrides:
        kind, sep, text = item.partition("=")
        if not sep or kind not in KINDS or not text:
            _fail(f"--placeholder wants KIND=TEXT with KIND one of {', '.join(KINDS)}: {item}")
        placeholders[kind] = text
    false_positives = frozenset()
    if decisions_path is not None:
        try:
            false_positives = load_decisions(decisions_path)
        except ValueError as error:
            _fail(str(error))
        except OSError as error:
            _fail(f"cannot read {decisions_path}: {error.strerror or error}")
    scanner = Scanner(key=_key(), sensitivity=level)
    options = {
        "false_positives": false_positives,
        "pseudonymize_ips": not ip_placeholder,
    }
    try:
        if os.path.isdir(source):
            if os.path.isfile(target):
                _fail(f"{target} is a file; a directory is redacted into a directory")
            files, replaced = redact_tree(
                source, target, scanner, placeholders, progress=_progress, **options
            )
        elif os.path.isfile(source):
            if os.path.isdir(target):
                target = os.path.join(target, os.path.basename(source))
            files, replaced = 1, redact_file(source, target, scanner, placeholders, **options)
        else:
            _fail(f"no such file or directory: {source}")
    except OSError as error:
        _fail(f"cannot redact {error.filename or source}: {error.strerror or error}")
    click.echo(f"redacted {replaced} value(s) in {files} file(s) into {target}")


def _progress(files):
    """A progress bar over the files on a terminal; nothing when piped (one-line failures)."""
    if not sys.stderr.isatty() or not files:
        return files
    return _ProgressFiles(files)


class _ProgressFiles:
    def __init__(self, files):
        self.files = files

    def __iter__(self):
        with click.progressbar(self.files, label="redacting", file=sys.stderr) as bar:
            yield from bar


def _tier(text: str, option: str) -> int:
    if text not in ("1", "2", "3"):
        _fail(f"{option} must be 1, 2 or 3, not {text!r}")
    return int(text)


def _key() -> bytes | None:
    value = os.environ.get(KEY_VARIABLE)
    if not value:
        click.echo(f"warning: {KEY_VARIABLE} is not set: fingerprints use the public "
                   "development key, so anyone can recompute them and they will not match "
                   "a deployed server's decisions", err=True)
        return None
    return value.encode("utf-8")


def _fail(message: str):
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def _as_text(findings, scanned: int) -> str:
    lines = [
        f"{f.path}:{f.line}:{f.column}  {f.kind}  {f.rule}  tier {f.tier}  {f.masked}"
        for f in findings
    ]
    kinds = Counter(f.kind for f in findings)
    summary = ", ".join(f"{kind} {count}" for kind, count in kinds.most_common())
    files = len({f.path for f in findings})
    lines.append(
        f"{len(findings)} finding(s) in {files} of {scanned} file(s)"
        + (f": {summary}" if summary else "")
    )
    return "\n".join(lines)


def _add_review_commands() -> None:
    """Attach the commands that work on the server's database (they need the app)."""
    from server.cli_pii_review import decisions, ingest

    pii.add_command(decisions)
    pii.add_command(ingest)


_add_review_commands()
