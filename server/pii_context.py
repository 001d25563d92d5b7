"""Reviewers' PII context, encrypted at rest with AES-256-GCM.

The key is ``PII_CONTEXT_KEY`` (``OPTOUT_PII_CONTEXT_KEY``: 32 bytes, URL-safe base64) or
the file ``PII_CONTEXT_KEY_FILE`` (``instance/pii.key``), created 0600 on first use. Each
ciphertext is bound to its finding (content hash, rule, span) as associated data, so a
snippet copied onto another row does not decrypt there.
"""

from __future__ import annotations

import base64
import binascii
import os
import time
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app

from server.errors import ApiError

FORMAT = b"\x01"  # AES-256-GCM, 12-byte nonce, then ciphertext and tag
NONCE_BYTES = 12


class ContextKeyError(ApiError):
    """The context key is missing, malformed, or does not open a stored snippet."""

    def __init__(self, message: str):
        # An operator's problem, not the caller's: 503 with a stable code, never a 500.
        super().__init__(503, "pii_context_unavailable", message)


def encrypt_context(text: str, binding: str) -> bytes:
    """Encrypt a snippet for the finding named by ``binding``."""
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(_key()).encrypt(nonce, text.encode("utf-8", "surrogatepass"), _aad(binding))
    return FORMAT + nonce + sealed


def decrypt_context(blob: bytes, binding: str) -> str:
    """Decrypt a snippet stored by `encrypt_context` for the same ``binding``.

    Raises:
        ContextKeyError: wrong key, tampered blob, or a blob of another finding.
    """
    blob = bytes(blob)
    if blob[:1] != FORMAT:
        raise ContextKeyError("unknown context format")
    nonce, sealed = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
    try:
        plain = AESGCM(_key()).decrypt(nonce, sealed, _aad(binding))
    except InvalidTag:
        raise ContextKeyError("the PII context key does not open this snippet") from None
    return plain.decode("utf-8", "surrogatepass")


def _aad(binding: str) -> bytes:
    return b"optout-pii-context\x00" + binding.encode("utf-8")


def _key() -> bytes:
    configured = current_app.config.get("PII_CONTEXT_KEY")
    if configured:
        return _decode_key(str(configured), "PII_CONTEXT_KEY")
    path = Path(current_app.config.get("PII_CONTEXT_KEY_FILE") or "")
    if not path.name:
        path = Path(current_app.instance_path) / "pii.key"
    return _decode_key(read_or_create_key(path), str(path))


def _decode_key(text: str, where: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip().encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise ContextKeyError(f"{where}: not URL-safe base64") from None
    if len(key) != 32:
        raise ContextKeyError(f"{where}: must hold 32 bytes, not {len(key)}")
    return key


def read_or_create_key(path: Path) -> str:
    """Return the key file's text, creating it 0600 (first writer wins) when missing."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        return read_or_create_key(path)
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            raise ContextKeyError(f"{path} is readable by others; chmod 600 it") from None
        for _ in range(50):  # another worker may be writing it right now
            text = path.read_text().strip()
            if text:
                return text
            time.sleep(0.01)
        raise ContextKeyError(f"{path} is empty; delete it to make a new key") from None
    text = base64.urlsafe_b64encode(AESGCM.generate_key(bit_length=256)).decode("ascii")
    with os.fdopen(fd, "w") as handle:
        handle.write(text + "\n")
    return text
