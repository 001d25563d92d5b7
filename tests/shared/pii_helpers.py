"""Helpers for the PII tests: a scanner, findings with their values, random token bodies."""

from __future__ import annotations

import random
import string

from shared.pii import Scanner

ALNUM = string.ascii_letters + string.digits
_rng = random.Random(20240601)


def body(n: int, alphabet: str = ALNUM) -> str:
    """A random token body (seeded, so failures reproduce)."""
    return "".join(_rng.choice(alphabet) for _ in range(n))


def found(text: str, path: str = "src/app.py", sensitivity: int = 2, **options):
    """(rule, kind, value, tier) for each finding; the value read back from the text."""
    scanner = Scanner(sensitivity=sensitivity, **options)
    return [(f.rule, f.kind, text[f.start : f.end], f.tier) for f in scanner.scan_text(text, path)]


def values(text: str, path: str = "src/app.py", sensitivity: int = 2) -> list[str]:
    return [value for _, _, value, _ in found(text, path, sensitivity)]
