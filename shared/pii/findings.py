"""What a scan reports: a `Finding` with a keyed fingerprint and a masked preview, never the value.

The fingerprint is ``HMAC-SHA256(key, rule || 0x00 || value)`` in lowercase hex, with the value
UTF-8 encoded. It is what reviewers' decisions are keyed by, so it must be computed with the same
key by the pipeline that scans, the server that stores decisions and the redactor that applies
them. Without a key the scanner uses `DEV_FINGERPRINT_KEY`, which is public: fine for a laptop,
wrong for a deployment (a public key lets anyone confirm a guessed value from its fingerprint).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import asdict, dataclass

KINDS = ("email", "ip_address", "key", "private_key", "password", "card", "phone")
TIERS = (1, 2, 3)  # 1 high confidence ... 3 low
DEV_FINGERPRINT_KEY = b"optout-dev-pii-fingerprint-key (public: never use in production)"


@dataclass(frozen=True, slots=True)
class Finding:
    """One detected value in one file, located by character offsets in the decoded text.

    ``start``/``end`` index the text decoded as UTF-8 with invalid bytes replaced by U+FFFD;
    ``line``/``column`` are 1-based, columns counted in characters. The raw value is not kept:
    use `shared.pii.reveal_value` (the reviewer's explicit reveal path) to read it back.
    """

    path: str
    content_sha256: str
    start: int
    end: int
    line: int
    column: int
    kind: str
    rule: str
    tier: int
    fingerprint: str
    masked: str

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Finding:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})


def fingerprint(key: bytes, rule: str, value: str) -> str:
    """Keyed fingerprint of a value under a rule: equal values give equal fingerprints."""
    message = rule.encode("utf-8") + b"\x00" + value.encode("utf-8", "surrogatepass")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def mask(kind: str, value: str, prefix: str = "") -> str:
    """A preview that lets a reviewer recognise a value without disclosing it."""
    if kind == "email":
        local, _, domain = value.rpartition("@")
        return f"{local[:1]}***@{domain}"
    if kind == "ip_address":
        if ":" in value:
            return ":".join(value.split(":")[:2]) + ":****…"
        return ".".join(value.split(".")[:2]) + ".*.*"
    if kind == "private_key":
        return value.splitlines()[0].strip()[:64] + "…"
    if kind == "card":
        digits = [c for c in value if c.isdigit()]
        return "****…" + "".join(digits[-4:])
    if kind == "phone":
        digits = "".join(c for c in value if c.isdigit())
        lead = "+" if value.lstrip().startswith("+") else ""
        return f"{lead}****…{digits[-2:]}"
    if kind == "password":
        return f"{value[0]}****{value[-1]}" if len(value) >= 8 else "****"
    body = value[len(prefix) :]
    if len(body) >= 16:
        return f"{prefix}****…****{body[-4:]}"
    return f"{prefix}****"
