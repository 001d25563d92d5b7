"""PII and secret detection and redaction (pure Python; RE2 when google-re2 is installed).

    from shared.pii import Scanner, redact
    scanner = Scanner(key=b"instance key", sensitivity=2)
    findings = scanner.scan_file("src/settings.py")      # list[Finding], no raw values
    clean = redact(text, findings)                       # '<EMAIL>', '<KEY>', 10.x.y.z ...

Rules live in ``providers`` (provider keys with known shapes, JWTs), ``credentials`` (private
keys, URL credentials, password/secret assignments, high-entropy strings) and ``personal``
(e-mail, public IPs, payment cards, phone numbers); false-positive guards in ``guards``; the
streaming, offsets and overlap handling in ``scanner``; placeholders and decisions in ``redact``.
"""

from shared.pii.engine import BACKEND
from shared.pii.findings import DEV_FINGERPRINT_KEY, KINDS, TIERS, Finding, fingerprint, mask
from shared.pii.redact import (
    DEFAULT_PLACEHOLDERS,
    load_decisions,
    pseudonymous_ip,
    redact,
    redact_file,
    redact_tree,
)
from shared.pii.rules import Rule
from shared.pii.scanner import DEFAULT_RULES, Scanner, iter_files, reveal_value

__all__ = [
    "BACKEND",
    "DEFAULT_PLACEHOLDERS",
    "DEFAULT_RULES",
    "DEV_FINGERPRINT_KEY",
    "KINDS",
    "TIERS",
    "Finding",
    "Rule",
    "Scanner",
    "fingerprint",
    "iter_files",
    "load_decisions",
    "mask",
    "pseudonymous_ip",
    "redact",
    "redact_file",
    "redact_tree",
    "reveal_value",
]
