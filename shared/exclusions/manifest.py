"""The exclusion list manifest: a C2SP signed note (``shared.note``) over a fixed text.

The note text is exactly two lines::

    optout exclusion-list manifest v1
    {"checkpoint":"...","expires":"2026-12-01T00:00:00Z","issued":"2026-11-01T00:00:00Z",
    "prev":null,"salt":null,"sha256":"<64 hex>","size":123,"version":1}

(shown wrapped here; it is one line)

The second line is RFC 8785 canonical JSON with exactly these keys (chosen over key: value lines
because the checkpoint is itself a multi-line note and JSON escapes it unambiguously):

* ``version``: integer >= 1, strictly increasing from one publication to the next;
* ``issued``, ``expires``: RFC 3339 UTC, seconds precision, ``YYYY-MM-DDTHH:MM:SSZ``;
  ``expires`` is after ``issued``;
* ``sha256`` (64 lower-case hex) and ``size`` (bytes) of the body;
* ``prev``: hex SHA-256 of the previous version's complete manifest note bytes (text and
  signatures), null exactly when ``version`` is 1;
* ``checkpoint``: the complete signed checkpoint note (c2sp tlog-checkpoint) of the audit log
  whose tree holds the publication entry, as a string; checked for syntax here, and verified
  against the log's key when ``open_manifest`` is given ``log_verifiers``;
* ``salt``: hex of the privacy-mode salt, or null for a list of plain rules.

``open_manifest`` is strict: the header, the canonical form, the key set, every type and
range; any deviation is ``MalformedManifestError``, a bad or missing signature is
``ManifestSignatureError``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.canonical import CanonicalJSONError, canonical_json, load_canonical
from shared.note import (
    Checkpoint,
    NoteError,
    Signer,
    Verifier,
    open_checkpoint,
    open_note,
    parse_note,
    sign_note,
)

HEADER = "optout exclusion-list manifest v1"
MAX_VERSION = 2**53 - 1
MAX_SIZE = 2**53 - 1
_KEYS = {"version", "issued", "expires", "sha256", "size", "prev", "checkpoint", "salt"}
_HEX64 = re.compile(r"[0-9a-f]{64}")
_SALT = re.compile(r"(?:[0-9a-f]{2}){16,64}")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


class MalformedManifestError(ValueError):
    """A manifest that does not follow the format."""


class ManifestSignatureError(ValueError):
    """A manifest not signed by any trusted key, or with a failing trusted signature."""


def format_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise MalformedManifestError("times must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: object, what: str) -> datetime:
    if not isinstance(text, str) or not _TIME.fullmatch(text):
        raise MalformedManifestError(f"{what} must be RFC 3339 UTC YYYY-MM-DDTHH:MM:SSZ")
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise MalformedManifestError(f"{what} is not a valid date and time") from None


def note_hash(note: bytes) -> str:
    """The ``prev`` value that points at a manifest note: hex SHA-256 of its bytes."""
    return hashlib.sha256(note).hexdigest()


@dataclass(frozen=True)
class Manifest:
    version: int
    issued: datetime
    expires: datetime
    sha256: str
    size: int
    prev: str | None
    checkpoint: str
    salt: bytes | None = None

    def __post_init__(self) -> None:
        v = self.version
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= MAX_VERSION:
            raise MalformedManifestError(f"version must be an integer >= 1, got {v!r}")
        s = self.size
        if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= MAX_SIZE:
            raise MalformedManifestError(f"size must be a non-negative integer, got {s!r}")
        if not isinstance(self.sha256, str) or not _HEX64.fullmatch(self.sha256):
            raise MalformedManifestError("sha256 must be 64 lower-case hex digits")
        if (self.prev is None) != (v == 1):
            raise MalformedManifestError("prev is null exactly for version 1")
        if self.prev is not None and (
            not isinstance(self.prev, str) or not _HEX64.fullmatch(self.prev)
        ):
            raise MalformedManifestError("prev must be 64 lower-case hex digits or null")
        for what, moment in (("issued", self.issued), ("expires", self.expires)):
            if not isinstance(moment, datetime) or moment.tzinfo is None:
                raise MalformedManifestError(f"{what} must be a timezone-aware datetime")
            if moment.microsecond:
                raise MalformedManifestError(f"{what} must have whole seconds")
        if self.expires <= self.issued:
            raise MalformedManifestError("expires must be after issued")
        if self.salt is not None and (
            not isinstance(self.salt, bytes) or not 16 <= len(self.salt) <= 64
        ):
            raise MalformedManifestError("salt must be 16 to 64 bytes")
        if not isinstance(self.checkpoint, str):
            raise MalformedManifestError("checkpoint must be a signed checkpoint note string")
        try:
            text, _ = parse_note(self.checkpoint.encode("utf-8"))
            Checkpoint.parse(text)
        except (NoteError, UnicodeEncodeError) as error:
            raise MalformedManifestError(f"checkpoint: {error}") from None

    def fields(self) -> dict:
        return {
            "version": self.version,
            "issued": format_time(self.issued),
            "expires": format_time(self.expires),
            "sha256": self.sha256,
            "size": self.size,
            "prev": self.prev,
            "checkpoint": self.checkpoint,
            "salt": self.salt.hex() if self.salt is not None else None,
        }

    def text(self) -> str:
        return f"{HEADER}\n{canonical_json(self.fields()).decode('utf-8')}\n"

    @property
    def log_checkpoint(self) -> Checkpoint:
        text, _ = parse_note(self.checkpoint.encode("utf-8"))
        return Checkpoint.parse(text)


def build_manifest(
    body: bytes,
    *,
    version: int,
    issued: datetime,
    expires: datetime,
    prev_note: bytes | None,
    checkpoint: str | bytes,
    salt: bytes | None = None,
) -> Manifest:
    """Describe ``body`` as version ``version``; ``prev_note`` is the previous manifest note."""
    if isinstance(checkpoint, bytes):
        checkpoint = checkpoint.decode("utf-8")
    return Manifest(
        version=version,
        issued=issued,
        expires=expires,
        sha256=hashlib.sha256(body).hexdigest(),
        size=len(body),
        prev=note_hash(prev_note) if prev_note is not None else None,
        checkpoint=checkpoint,
        salt=salt,
    )


def sign_manifest(manifest: Manifest, signers: Sequence[Signer]) -> bytes:
    return sign_note(manifest.text(), signers)


def parse_manifest_text(text: str) -> Manifest:
    header, sep, rest = text.partition("\n")
    if header != HEADER or not sep:
        raise MalformedManifestError(f"manifest must start with the line {HEADER!r}")
    if not rest.endswith("\n") or "\n" in rest[:-1]:
        raise MalformedManifestError("manifest must be the header and one JSON line")
    try:
        fields = load_canonical(rest[:-1].encode("utf-8"))
    except CanonicalJSONError as error:
        raise MalformedManifestError(f"manifest JSON: {error}") from None
    if not isinstance(fields, dict) or set(fields) != _KEYS:
        raise MalformedManifestError(f"manifest must have exactly the keys {sorted(_KEYS)}")
    salt = fields["salt"]
    if salt is not None and (not isinstance(salt, str) or not _SALT.fullmatch(salt)):
        raise MalformedManifestError("salt must be lower-case hex of 16 to 64 bytes, or null")
    manifest = Manifest(
        version=fields["version"],
        issued=parse_time(fields["issued"], "issued"),
        expires=parse_time(fields["expires"], "expires"),
        sha256=fields["sha256"],
        size=fields["size"],
        prev=fields["prev"],
        checkpoint=fields["checkpoint"],
        salt=bytes.fromhex(salt) if salt is not None else None,
    )
    if manifest.text() != text:
        raise MalformedManifestError("manifest text is not in canonical form")
    return manifest


def open_manifest(
    note: bytes,
    verifiers: Iterable[Verifier | str],
    *,
    log_verifiers: Iterable[Verifier | str] | None = None,
    log_origin: str | None = None,
) -> Manifest:
    """Verify the manifest note against trusted keys and parse it strictly."""
    try:
        known = [v if isinstance(v, Verifier) else Verifier(v) for v in verifiers]
    except NoteError as error:
        raise ManifestSignatureError(f"bad trusted key: {error}") from None
    try:
        parse_note(note)
    except NoteError as error:
        raise MalformedManifestError(f"manifest note: {error}") from None
    try:
        text, _ = open_note(note, known)
    except NoteError as error:
        raise ManifestSignatureError(f"manifest signature: {error}") from None
    manifest = parse_manifest_text(text)
    if log_verifiers is not None:
        try:
            checkpoint = open_checkpoint(
                manifest.checkpoint.encode("utf-8"),
                log_verifiers,
                log_origin or manifest.log_checkpoint.origin,
            )
        except NoteError as error:
            raise ManifestSignatureError(f"audit checkpoint: {error}") from None
        del checkpoint
    return manifest
