"""C2SP signed notes (c2sp.org/signed-note) with Ed25519, and log checkpoints in them.

A signed note is a text, a blank line, and one or more signature lines::

    <text: valid UTF-8, ending in a newline, no control characters but newlines>
    <blank line>
    — <key name> <base64(4-byte key id || Ed25519 signature over the text)>

The key id is ``SHA-256(name || "\\n" || 0x01 || public key)[:4]`` and a verifier key is the
string ``name+hexid+base64(0x01 || public key)`` (``shared.keys``). This module produces the
same bytes as Go's ``golang.org/x/mod/sumdb/note`` and opens the notes it signs.

``open_note`` follows the spec: a signature from an unknown key is ignored (pass
``reject_unknown=True`` to refuse it instead), a signature from a known key that fails rejects
the whole note, and at least one known key must have signed. It is stricter than Go in two
ways: a key may sign a note only once (Go silently drops repeated lines), and base64 must be
canonical, so one signed note has exactly one spelling. At most ``MAX_SIGNATURES`` lines.

A checkpoint (c2sp.org/tlog-checkpoint) is a note whose text is the log's origin line, its
tree size in decimal, the base64 root hash, and optional non-empty extension lines.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from shared.keys import ED25519_ALG, key_hash, public_bytes, valid_key_name, verifier_key

SIGNATURE_PREFIX = "\u2014 "  # em dash, space
MAX_SIGNATURES = 100
MAX_TREE_SIZE = 2**64 - 1
_HEX_ID = re.compile(r"[0-9a-fA-F]{8}")
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")


class NoteError(ValueError):
    """A malformed note, key or checkpoint, or one that does not verify."""


class InvalidSignatureError(NoteError):
    """A known key's signature on the note does not verify."""


class UnverifiedNoteError(NoteError):
    """No known key has signed the note."""


class UnknownKeyError(NoteError):
    """The note carries a signature from a key the caller does not know (when refused)."""


def _b64decode(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError(f"{what} is not valid base64") from None
    if base64.b64encode(raw).decode() != text:
        raise NoteError(f"{what} is not canonical base64")
    return raw


def _b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


# -- keys ----------------------------------------------------------------------------------------


class Verifier:
    """A known Ed25519 key, parsed from a verifier key ``name+hexid+base64(0x01||key)``."""

    def __init__(self, vkey: str) -> None:
        parts = vkey.split("+", 2)
        if len(parts) != 3 or not valid_key_name(parts[0]) or not _HEX_ID.fullmatch(parts[1]):
            raise NoteError(f"malformed verifier key {vkey!r}")
        name, hex_id, encoded = parts
        key = _b64decode(encoded, "verifier key")
        if key[:1] != ED25519_ALG:
            raise NoteError(f"verifier key {name} is not an Ed25519 key")
        if len(key) != 33:
            raise NoteError(f"verifier key {name} has a key of {len(key) - 1} bytes, not 32")
        public = key[1:]
        if key_hash(name, public) != bytes.fromhex(hex_id):
            raise NoteError(f"verifier key {name} has the wrong key id {hex_id}")
        self.name = name
        self.key_id = bytes.fromhex(hex_id)
        self.public_key = public
        try:
            self._key = Ed25519PublicKey.from_public_bytes(public)
        except ValueError:
            raise NoteError(f"verifier key {name} is not a valid Ed25519 key") from None

    @classmethod
    def from_public_key(cls, name: str, public: bytes) -> Verifier:
        return cls(verifier_key(name, public))

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def __str__(self) -> str:
        return verifier_key(self.name, self.public_key)

    def __repr__(self) -> str:
        return f"Verifier({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Verifier) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))


class Signer:
    """An Ed25519 private key that signs notes under a key name."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        if not valid_key_name(name):
            raise NoteError(f"invalid key name {name!r}: empty, or has '+' or spaces")
        self.name = name
        self._key = private_key
        self.public_key = public_bytes(private_key)
        self.key_id = key_hash(name, self.public_key)

    @classmethod
    def from_signer_key(cls, skey: str) -> Signer:
        """Parse Go's signer key ``PRIVATE+KEY+name+hexid+base64(0x01||seed)``."""
        prefix, _, rest = skey.partition("PRIVATE+KEY+")
        parts = rest.split("+", 2)
        if prefix or len(parts) != 3 or not _HEX_ID.fullmatch(parts[1]):
            raise NoteError("malformed signer key")
        name, hex_id, encoded = parts
        key = _b64decode(encoded, "signer key")
        if key[:1] != ED25519_ALG or len(key) != 33:
            raise NoteError("signer key is not a 32-byte Ed25519 seed")
        signer = cls(name, Ed25519PrivateKey.from_private_bytes(key[1:]))
        if signer.key_id != bytes.fromhex(hex_id):
            raise NoteError(f"signer key {name} has the wrong key id {hex_id}")
        return signer

    @property
    def verifier(self) -> Verifier:
        return Verifier.from_public_key(self.name, self.public_key)

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)


# -- notes ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Signature:
    """One signature line of a note, verified or not."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        return f"{SIGNATURE_PREFIX}{self.name} {_b64encode(self.key_id + self.signature)}\n"


class OpenedNote(NamedTuple):
    text: str
    verified: tuple[Verifier, ...]


def _check_controls(text: str) -> None:
    if any(c < " " and c != "\n" for c in text):
        raise NoteError("malformed note: control characters other than newline")


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("malformed note: the text must end with a newline")
    _check_controls(text)


def sign_note(text: str, signers: Sequence[Signer]) -> bytes:
    """Sign ``text`` with every signer and return the note's bytes."""
    _check_text(text)
    try:
        message = text.encode("utf-8")
    except UnicodeEncodeError:
        raise NoteError("malformed note: the text is not valid Unicode") from None
    if not signers or len(signers) > MAX_SIGNATURES:
        raise NoteError(f"a note needs 1 to {MAX_SIGNATURES} signers, got {len(signers)}")
    if len({(s.name, s.key_id) for s in signers}) != len(signers):
        raise NoteError("the same key cannot sign a note twice")
    lines = [Signature(s.name, s.key_id, s.sign(message)).line() for s in signers]
    return message + b"\n" + "".join(lines).encode("utf-8")


def parse_note(note: bytes) -> tuple[str, list[Signature]]:
    """Split a note into its text and signature lines, checking syntax only."""
    try:
        decoded = note.decode("utf-8")
    except UnicodeDecodeError:
        raise NoteError("malformed note: not valid UTF-8") from None
    _check_controls(decoded)
    split = decoded.rfind("\n\n")
    if split < 0:
        raise NoteError("malformed note: no blank line before the signatures")
    text, block = decoded[: split + 1], decoded[split + 2 :]
    if not block.endswith("\n"):
        raise NoteError("malformed note: no signature lines, or the last has no newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"malformed note: more than {MAX_SIGNATURES} signatures")
    signatures = [_parse_signature_line(line) for line in lines]
    seen = set()
    for sig in signatures:
        if (sig.name, sig.key_id) in seen:
            raise NoteError(f"malformed note: key {sig.name}+{sig.key_id.hex()} signs twice")
        seen.add((sig.name, sig.key_id))
    return text, signatures


def _parse_signature_line(line: str) -> Signature:
    if not line.startswith(SIGNATURE_PREFIX):
        raise NoteError("malformed note: a signature line must start with an em dash")
    name, _, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
    if not valid_key_name(name):
        raise NoteError(f"malformed note: invalid key name {name!r}")
    raw = _b64decode(encoded, f"signature of {name}")
    if len(raw) < 5:
        raise NoteError(f"malformed note: signature of {name} is too short")
    return Signature(name, raw[:4], raw[4:])


def _index(verifiers: Iterable[Verifier | str]) -> dict[tuple[str, bytes], Verifier]:
    known: dict[tuple[str, bytes], Verifier] = {}
    for item in verifiers:
        verifier = item if isinstance(item, Verifier) else Verifier(item)
        key = (verifier.name, verifier.key_id)
        if known.setdefault(key, verifier) != verifier:
            raise NoteError(f"ambiguous key {verifier.name}+{verifier.key_id.hex()}")
    return known


def open_note(
    note: bytes, verifiers: Iterable[Verifier | str], *, reject_unknown: bool = False
) -> OpenedNote:
    """Verify a note against known keys and return its text and the keys that signed it."""
    known = _index(verifiers)
    text, signatures = parse_note(note)
    message = text.encode("utf-8")
    verified = []
    for sig in signatures:
        verifier = known.get((sig.name, sig.key_id))
        if verifier is None:
            if reject_unknown:
                raise UnknownKeyError(f"note signed by unknown key {sig.name}+{sig.key_id.hex()}")
            continue
        if not verifier.verify(message, sig.signature):
            raise InvalidSignatureError(f"invalid signature for key {sig.name}+{sig.key_id.hex()}")
        verified.append(verifier)
    if not verified:
        raise UnverifiedNoteError("note has no verifiable signatures")
    return OpenedNote(text, tuple(verified))


# -- checkpoints ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A log's signed statement of its size and root hash (c2sp.org/tlog-checkpoint)."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "extensions", tuple(self.extensions))
        for what, line in [("origin", self.origin), *(("extension", e) for e in self.extensions)]:
            if not isinstance(line, str) or not line or any(c < " " for c in line):
                raise NoteError(f"checkpoint {what} must be a non-empty line, got {line!r}")
        size = self.size
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_TREE_SIZE:
            raise NoteError(f"checkpoint size must be an integer 0..2**64-1, got {size!r}")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != 32:
            raise NoteError("checkpoint root hash must be 32 bytes")

    def format(self) -> str:
        """Return the note text: origin, size, base64 root, extension lines, each with \\n."""
        lines = [self.origin, str(self.size), _b64encode(self.root_hash), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Parse a checkpoint's note text strictly."""
        _check_text(text)
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise NoteError("checkpoint needs an origin, a size and a root hash line")
        if not all(lines):
            raise NoteError("checkpoint lines must not be empty")
        origin, size, encoded_root, *extensions = lines
        if not _DECIMAL.fullmatch(size) or int(size) > MAX_TREE_SIZE:
            raise NoteError(f"checkpoint size {size!r} is not a decimal without leading zeros")
        root_hash = _b64decode(encoded_root, "checkpoint root hash")
        if len(root_hash) != 32:
            raise NoteError(f"checkpoint root hash is {len(root_hash)} bytes, not 32")
        return cls(origin, int(size), root_hash, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, signers: Sequence[Signer]) -> bytes:
    """Return ``checkpoint`` as a note signed by every signer."""
    return sign_note(checkpoint.format(), signers)


def open_checkpoint(
    note: bytes,
    verifiers: Iterable[Verifier | str],
    origin: str,
    *,
    reject_unknown: bool = False,
) -> Checkpoint:
    """Verify a signed checkpoint from the log ``origin`` and return it."""
    text, _ = open_note(note, verifiers, reject_unknown=reject_unknown)
    checkpoint = Checkpoint.parse(text)
    if checkpoint.origin != origin:
        raise NoteError(f"checkpoint is from log {checkpoint.origin!r}, expected {origin!r}")
    return checkpoint
