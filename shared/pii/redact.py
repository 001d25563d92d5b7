"""Redaction: replace each finding's value with its kind's placeholder, consistently.

Decisions made in this module (see README, "PII and secrets"):

- Placeholders are per kind: ``<EMAIL>``, ``<IP_ADDRESS>``, ``<KEY>`` (keys and private keys),
  ``<PASSWORD>``, ``<CARD>``, ``<PHONE>``. A placeholder may contain ``{n}`` to number distinct
  values within one text (``<EMAIL_{n}>`` gives ``<EMAIL_1>``, ``<EMAIL_2>``...), counted by
  fingerprint so the same value always gets the same number.
- IP addresses are pseudonymised by default, as BigCode did, but deterministically: the address
  becomes a private one (``10.x.y.z`` or ``fdxx:...``) derived from the finding's keyed
  fingerprint, so the same address maps to the same pseudonym in every file and every rebuild
  under one key, and code that parses addresses still parses. Private addresses are never
  detected, which keeps redaction idempotent.
- Only the value is replaced: spans never include the quotes around a string literal.
- Placeholders and pseudonyms are never detected, so redacting twice changes nothing.
- Findings whose (fingerprint, rule) a reviewer marked ``false_positive`` are left alone.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from shared.atomic import write_atomic
from shared.pii.findings import Finding
from shared.pii.scanner import Scanner, iter_files

DEFAULT_PLACEHOLDERS = {
    "email": "<EMAIL>",
    "ip_address": "<IP_ADDRESS>",
    "key": "<KEY>",
    "private_key": "<KEY>",
    "password": "<PASSWORD>",
    "card": "<CARD>",
    "phone": "<PHONE>",
}
DecisionKey = tuple[str, str]  # (fingerprint, rule)


def redact(
    text: str,
    findings: Iterable[Finding],
    placeholders: dict[str, str] | None = None,
    *,
    false_positives: frozenset[DecisionKey] | set[DecisionKey] = frozenset(),
    pseudonymize_ips: bool = True,
) -> str:
    """Return ``text`` with every finding's span replaced (overlaps: the earlier one wins)."""
    chosen = {**DEFAULT_PLACEHOLDERS, **(placeholders or {})}
    numbers: dict[str, dict[str, int]] = {}
    parts, position = [], 0
    for finding in sorted(findings, key=lambda f: (f.start, -f.end)):
        if finding.start < position or (finding.fingerprint, finding.rule) in false_positives:
            continue
        parts.append(text[position : finding.start])
        parts.append(_replacement(finding, chosen, numbers, pseudonymize_ips))
        position = finding.end
    parts.append(text[position:])
    return "".join(parts)


def _replacement(finding: Finding, placeholders, numbers, pseudonymize_ips: bool) -> str:
    if finding.kind == "ip_address" and pseudonymize_ips:
        return pseudonymous_ip(finding.fingerprint, v6=finding.rule == "ipv6")
    template = placeholders[finding.kind]
    if "{n}" not in template:
        return template
    seen = numbers.setdefault(finding.kind, {})
    number = seen.setdefault(finding.fingerprint, len(seen) + 1)
    return template.replace("{n}", str(number))


def pseudonymous_ip(fingerprint_hex: str, *, v6: bool = False) -> str:
    """A private address derived from a fingerprint: 10.0.0.0/8 or the fd00::/8 ULA range."""
    raw = bytes.fromhex(fingerprint_hex)
    if not v6:
        return f"10.{raw[0]}.{raw[1]}.{1 + raw[2] % 254}"
    groups = [f"fd{raw[0]:02x}"] + [f"{int.from_bytes(raw[i : i + 2], 'big'):x}" for i in (1, 3)]
    groups += [f"{int.from_bytes(raw[i : i + 2], 'big'):x}" for i in (5, 7, 9, 11, 13)]
    return ":".join(groups)


def load_decisions(path: str | os.PathLike) -> frozenset[DecisionKey]:
    """Read a decisions file: JSON Lines of ``{"fingerprint", "rule", "decision"}``.

    Returns the (fingerprint, rule) pairs whose decision is ``false_positive``; ``confirmed``
    lines are valid and ignored (the redactor redacts them anyway).

    Raises:
        ValueError: a line is not such an object (the message names the line).
        OSError: the file cannot be read.
    """
    skipped = set()
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                decision, key = entry["decision"], (entry["fingerprint"], entry["rule"])
            except (ValueError, KeyError, TypeError) as error:
                raise ValueError(f"{path}:{number}: not a decision object ({error})") from None
            if decision not in ("confirmed", "false_positive"):
                raise ValueError(f"{path}:{number}: unknown decision {decision!r}")
            if decision == "false_positive":
                skipped.add(key)
    return frozenset(skipped)


def redact_file(
    source: str | os.PathLike,
    target: str | os.PathLike,
    scanner: Scanner,
    placeholders: dict[str, str] | None = None,
    *,
    false_positives: frozenset[DecisionKey] = frozenset(),
    pseudonymize_ips: bool = True,
    display_path: str | None = None,
) -> int:
    """Write ``source`` redacted to ``target`` atomically; return how many values it replaced.

    Files without findings, and binary files, are copied byte for byte. Files with findings
    are written as UTF-8 (invalid bytes come out as U+FFFD, the text the offsets index).
    """
    data = Path(source).read_bytes()
    findings = scanner.scan_bytes(data, display_path or os.fspath(source))
    applied = [f for f in findings if (f.fingerprint, f.rule) not in false_positives]
    if applied:
        text = redact(
            data.decode("utf-8", "replace"),
            applied,
            placeholders,
            pseudonymize_ips=pseudonymize_ips,
        )
        data = text.encode("utf-8", "surrogatepass")
    write_atomic(Path(target), data, mode_from=Path(source))
    return len(applied)


def redact_tree(
    source: str | os.PathLike,
    target: str | os.PathLike,
    scanner: Scanner,
    placeholders: dict[str, str] | None = None,
    *,
    false_positives: frozenset[DecisionKey] = frozenset(),
    pseudonymize_ips: bool = True,
    progress: Callable[[Iterable[str]], Iterable[str]] = lambda files: files,
) -> tuple[int, int]:
    """Redact every file under ``source`` into the same layout under ``target``.

    Returns (files written, values replaced). ``progress`` wraps the list of files (a
    progress bar on a terminal).
    """
    source, target = Path(source), Path(target)
    files = list(iter_files([source]))
    replaced = 0
    for path in progress(files):
        relative = Path(path).relative_to(source)
        replaced += redact_file(
            path,
            target / relative,
            scanner,
            placeholders,
            false_positives=false_positives,
            pseudonymize_ips=pseudonymize_ips,
            display_path=relative.as_posix(),
        )
    return len(files), replaced


