"""Ed25519 signing keys on disk and their C2SP signed-note verifier key strings."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ED25519_ALG = b"\x01"


class KeyFileError(ValueError):
    """A key file that is missing, unreadable, or readable by others."""


def create_private_key(path: str | os.PathLike) -> Ed25519PrivateKey:
    """Create a new key at ``path`` with 0600 permissions; refuse to overwrite one."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # O_EXCL: never clobber an existing key; the mode applies at creation, so the key is
    # never readable by others, not even for an instant.
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return key


def load_private_key(path: str | os.PathLike) -> Ed25519PrivateKey:
    """Load a key, refusing one whose file is readable by group or others."""
    target = Path(path)
    try:
        mode = target.stat().st_mode
        data = target.read_bytes()
    except OSError as error:
        raise KeyFileError(f"cannot read signing key {target}: {error.strerror}") from None
    if mode & 0o077:
        raise KeyFileError(f"signing key {target} is readable by others; chmod 600 it")
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{target} does not hold an Ed25519 key")
    return key


def public_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_hash(name: str, public: bytes) -> bytes:
    """The 4-byte key id of the signed-note spec: SHA-256(name || "\\n" || 0x01 || key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + ED25519_ALG + public).digest()[:4]


def valid_key_name(name: str) -> bool:
    """Whether ``name`` may name a signed-note key: non-empty, without '+' or Unicode spaces."""
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def verifier_key(name: str, public: bytes) -> str:
    """Return the verifier key string ``name+hexhash+base64(0x01||key)``."""
    if not valid_key_name(name):
        raise ValueError("a key name must be non-empty without '+' or spaces")
    encoded = base64.b64encode(ED25519_ALG + public).decode()
    return f"{name}+{key_hash(name, public).hex()}+{encoded}"
