"""Secrets without a provider shape: private-key blocks, credentials in URLs and headers,
password/secret/token assignments in code and config, and generic high-entropy tokens."""

from __future__ import annotations

import base64
import binascii
import re

from shared.pii.guards import (
    char_classes,
    decodes_to_text,
    in_hash_context,
    is_placeholder,
    is_uuid,
    looks_random,
)
from shared.pii.rules import Candidate, Rule

_BASE64_BYTES = re.compile(rb"[A-Za-z0-9+/=]")
_KEY_BODY = re.compile(rb"(?:[A-Za-z0-9+/=\s\"',:.\\]|-(?!----)|\\n|\\r)*")
_PLACEHOLDER_HOSTS = re.compile(r"(?:^|\.)(?:example\.(?:com|org|net)|example|test|invalid)$")


def _private_key_block(candidate: Candidate) -> int | None:
    block = candidate.data[candidate.start : candidate.end]
    if len(block) > 32768 or b"-----BEGIN" in block[10:]:
        return None  # a header without its END, followed by another block: the header rule
    body = block[block.index(b"-----", 10) + 5 : block.rindex(b"-----END")]
    return 1 if len(_BASE64_BYTES.findall(body)) >= 64 else None


def _private_key_header(candidate: Candidate) -> int | None:
    """A BEGIN line without its END (truncated file): report the header and its body."""
    match = _KEY_BODY.match(candidate.data, candidate.end, candidate.end + 16384)
    body = match.group() if match else b""
    if len(_BASE64_BYTES.findall(body)) < 64:
        return None
    if candidate.data.startswith(b"-----END", candidate.end + len(body)):
        return None  # terminated after all: the block rule judged it
    candidate.end += len(body.rstrip(b" \t\r\n\"',\\n"))
    return 2


def _url_password(candidate: Candidate) -> int | None:
    password = candidate.value
    user = (candidate.match.group(1) or b"").decode("utf-8", "replace")
    host = (candidate.match.group(3) or b"").decode("utf-8", "replace").lower()
    if is_placeholder(password) or password == user or password.strip("*") == "":
        return None
    if password.isdigit() and len(password) <= 5:
        return None  # host:port followed by a path-less '@' (not a password)
    if _PLACEHOLDER_HOSTS.search(host) or password.startswith(("$", "%", "{")):
        return None
    return 1 if len(password) >= 8 and char_classes(password) >= 2 else 2


def _basic_auth(candidate: Candidate) -> int | None:
    token = candidate.value
    try:
        decoded = base64.b64decode(token + "=" * (-len(token) % 4), validate=True).decode()
    except (binascii.Error, ValueError):
        return None
    user, sep, password = decoded.partition(":")
    if not sep or not password.isprintable() or is_placeholder(password) or password == user:
        return None
    return 2


def _bearer(candidate: Candidate) -> int | None:
    token = candidate.value
    if is_placeholder(token) or not looks_random(token, 0.75) or char_classes(token) < 2:
        return None
    return 2


_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")
_PASSWORD_NAME = re.compile(r"passw|passphrase|passcode|(?:^|_)(?:pwd|pass|pw)(?:_|$)|secret")
_TOKEN_NAME = re.compile(
    r"token|api_?key|access_?key|auth_?key|private_?key|signing_?key|encryption_?key"
    r"|credential|bearer"
)
_NOT_A_SECRET_NAME = frozenset(
    """
    file files path paths dir folder name names type types url uri urls endpoint env var vars
    length len size count max min num field fields prompt label format fmt header headers regex
    re pattern hash hashed hasher digest policy reset expires expiry expiration expire timeout
    ttl mode kind class placeholder hint message msg error errors required enabled enable
    validator validation input widget column param params arg args option options flag manager
    mgr provider store source cmd command prefix suffix char chars tokens tokenize tokenizer
    tokenized tokenizing tokenization index idx pos position id ids start end list set map dict
    location loc callback handler func function method module key_name lexer parser kwarg kwargs
    attr attribute attrs spec template doc docs help text question
    """.split()  # noqa: SIM905
)
_CONSTANT = re.compile(r"^[A-Z][A-Z0-9_]*_[A-Z0-9_]+$|^[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)+$")


def _words(name: str) -> list[str]:
    return [word.lower() for word in _WORD.findall(name)]


def _name_class(name: str) -> str | None:
    words = _words(name)
    if not words or any(word in _NOT_A_SECRET_NAME for word in words):
        return None
    joined = "_".join(words)
    if _PASSWORD_NAME.search(joined):
        return "password"
    return "token" if _TOKEN_NAME.search(joined) else None


def _assignment(candidate: Candidate) -> int | None:
    name = (candidate.match.group(1) or b"").decode("ascii", "replace")
    name_class = _name_class(name)
    value = candidate.value
    unquoted = candidate.match.start(5) >= 0
    if name_class is None or not _plausible_value(value, name, unquoted):
        return None
    if unquoted and not candidate.file.config_like:
        line = candidate.line_before().decode("utf-8", "replace").strip()
        if candidate.file.code_like or not line.startswith(name.strip(".")):
            return None
    tier = _password_tier(value) if name_class == "password" else _token_tier(value)
    if tier is not None and unquoted and not candidate.file.config_like:
        tier = max(tier, 2)
    return tier


def _plausible_value(value: str, name: str, unquoted: bool) -> bool:
    lowered, lowered_name = value.lower(), name.lower()
    if len(value) < 4 or len(value) > 200 or is_placeholder(value):
        return False
    if lowered in lowered_name or lowered_name.rsplit(".", 1)[-1] in lowered:
        return False
    if any(c.isspace() for c in value) or any(c in value for c in "(){}[]"):
        return False
    if is_uuid(value) or "://" in value:
        return False
    if _CONSTANT.match(value) and not any(c.isdigit() for c in value):
        return False  # ENV_VAR_NAME or module.attribute: a reference, not a value
    if value.startswith(("$", "%")):
        return False
    return not unquoted or not value.startswith(("!", "&", "*", "|", ">", "@", "/", "~", "."))


def _password_tier(value: str) -> int | None:
    classes = char_classes(value)
    if len(value) >= 8 and classes >= 3:
        return 1
    if len(value) >= 6 and classes >= 2:
        return 2
    return 3


def _token_tier(value: str) -> int | None:
    classes = char_classes(value)
    if len(value) >= 16 and classes >= 2 and looks_random(value, 0.75):
        return 1 if classes >= 3 else 2
    if len(value) >= 10 and classes >= 2 and looks_random(value, 0.7):
        return 3
    return None


_SECRET_CONTEXT = re.compile(rb"key|secret|token|auth|bearer|passw|credential")
_SPLIT = re.compile(r"[./_~-]")
_WORDLIKE = re.compile(r"[A-Z]?[a-z]{3,}|[A-Z]{4,}")
_VOWELS = set("aeiouy")
_HEX_FLOAT = re.compile(r"^[+-]?0x[0-9a-fA-F]*\.?[0-9a-fA-F]*p[+-]?[0-9]+$")


def _wordy(value: str) -> bool:
    """Mostly words (``PyUnicode_DecodeUTF16``, ``SubClass1.getrandbits``): a name, not a key."""
    words = [w for w in _WORDLIKE.findall(value) if len(w) >= 4 and set(w.lower()) & _VOWELS]
    return sum(len(word) for word in words) >= 0.6 * len(value)


def _generic(candidate: Candidate) -> int | None:
    value = candidate.value
    if not 20 <= len(value) <= 200 or is_placeholder(value) or is_uuid(value):
        return None
    if all(c in "0123456789abcdefABCDEF" for c in value) or _HEX_FLOAT.match(value):
        return None  # hex: digests, ids and colours; named hex secrets are assignments
    if _wordy(value):
        return None
    parts = [p for p in _SPLIT.split(value) if p]
    if len(parts) > 1 and all(p.isalpha() or len(p) < 8 for p in parts) or len(parts) > 3:
        return None  # dotted names, paths, kebab-case words
    if not any(c.isdigit() for c in value) and not any(c in "+/" for c in value):
        return None  # identifiers and words; random 20+ character tokens carry digits
    if char_classes(value) < 3 or not looks_random(value, 0.85) or decodes_to_text(value):
        return None
    before = candidate.line_before()[-64:]
    if in_hash_context(before):
        return None
    return 2 if _SECRET_CONTEXT.search(before.lower()) else 3


_NAME = (
    r"((?i:[A-Za-z0-9_.-]*(?:passw(?:or)?d|passphrase|passcode|pwd|pass|secret|token|api[_.-]?key"
    r"|apikey|access[_.-]?key|auth[_.-]?key|private[_.-]?key|signing[_.-]?key"
    r"|encryption[_.-]?key|credentials?)[A-Za-z0-9_.-]*))"
)
_VALUE = (
    r"[\"'\]]{0,2}[ \t]*(?::=|=>|=|:)[ \t]*(?:[rbuRBU]{0,2}\"([^\"\r\n]*)\""
    r"|[rbuRBU]{0,2}'([^'\r\n]*)'|`([^`\r\n]*)`|([^\s\"'`,;=][^\s\"'`,;]*))"
)
_PEM = r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"

RULES = [
    Rule(
        id="private-key",
        kind="private_key",
        pattern=_PEM + r"[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----",
        validate=_private_key_block,
        keywords=(b"PRIVATE KEY",),
        priority=98,
    ),
    Rule(
        id="private-key-unterminated",
        kind="private_key",
        pattern=_PEM,
        validate=_private_key_header,
        keywords=(b"PRIVATE KEY",),
        priority=97,
    ),
    Rule(
        id="url-credentials",
        kind="password",
        pattern=r"[A-Za-z][A-Za-z0-9+.-]*://([^\s:/?#@\"'<>\\]*):([^\s/@\"'<>\\]+)@"
        r"([A-Za-z0-9._-]+)",
        validate=_url_password,
        keywords=(b"://",),
        groups=(2,),
        priority=80,
    ),
    Rule(
        id="basic-auth",
        kind="password",
        pattern=r"(?i:basic)[ \t]+([A-Za-z0-9+/]{12,}={0,2})",
        validate=_basic_auth,
        keywords=(b"basic",),
        ignore_case=True,
        groups=(1,),
        priority=75,
    ),
    Rule(
        id="bearer-token",
        kind="key",
        pattern=r"(?i:bearer)[ \t]+([A-Za-z0-9._~+/-]{20,}=*)",
        validate=_bearer,
        keywords=(b"bearer",),
        ignore_case=True,
        groups=(1,),
        priority=70,
    ),
    Rule(
        id="password-assignment",
        kind="password",
        pattern=_NAME + _VALUE,
        validate=_assignment,
        keywords=(b"pass", b"pwd", b"secret", b"token", b"key", b"credential"),
        ignore_case=True,
        groups=(2, 3, 4, 5),
        priority=60,
    ),
    Rule(
        id="high-entropy-string",
        kind="key",
        pattern=r"[\"'`]([A-Za-z0-9+/_=.~-]{20,})[\"'`]",
        validate=_generic,
        groups=(1,),
        priority=10,
        hashlike=True,
    ),
]
