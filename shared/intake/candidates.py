"""Find the addresses in prose that the deterministic scope parser should read first.

URLs, SSH remotes, ``host/owner/name`` and bare ``owner/name`` forms are cut out of the
message with their character spans; ``shared.scope_parser.parse_one`` then reads each one
exactly as the owners' form would. Bare forms carry no host: the caller supplies one from the
message, or the proposal stays incomplete.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_TRAILING = ".,;:!?)]}'\""
_URL = re.compile(r"(?i)\b(?:https?|ssh|git|git\+ssh|ssh\+git)://[^\s<>\"'`]+")
_SCP = re.compile(r"\b[A-Za-z0-9._-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+:[A-Za-z0-9~][^\s<>\"'`]*")
_HOST_PATH = re.compile(
    r"(?<![\w@./:-])(?:www\.)?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/[^\s<>\"'`]+"
)
_BARE = re.compile(r"(?<![\w@./:~-])([A-Za-z0-9_][A-Za-z0-9._-]{0,99})/([A-Za-z0-9._-]{1,100})")
# A bare ``a/b`` that is a file path, a fraction or plain English, not owner/name.
FILE_SUFFIXES = _words(
    "md txt yml yaml json toml ini cfg conf env py go rs java kt c h cc cpp hpp cs rb php "
    "sh bash zsh ps1 pem key crt xml csv tsv html css scss ts tsx jsx lock sql log pdf "
    "png jpg svg gz zip"
)
# File names that carry no dot or slash: "keys/id_rsa" is a file, not the repository id_rsa.
PLAIN_FILE_NAMES = _words(
    "makefile dockerfile containerfile license licence readme copying authors notice "
    "procfile gemfile rakefile jenkinsfile vagrantfile brewfile codeowners id_rsa id_dsa "
    "id_ecdsa id_ed25519 known_hosts authorized_keys htpasswd netrc pgpass"
)
NOT_OWNERS = _words(
    "and or he she his her they them their either yes no on off true false input output "
    "read write and/or s n a i we us our you your it this that"
)


@dataclass(frozen=True)
class Candidate:
    """An address found in the message: its text, span and whether it names a host."""

    text: str
    start: int
    end: int
    bare: bool


def find_candidates(text: str) -> list[Candidate]:
    """Return the addresses in ``text`` in order, never two that overlap."""
    found: list[Candidate] = []
    taken: list[tuple[int, int]] = []
    for pattern, bare in ((_URL, False), (_SCP, False), (_HOST_PATH, False), (_BARE, True)):
        for match in pattern.finditer(text):
            start, end = match.start(), _trim(text, match.start(), match.end())
            if end <= start or any(s < end and start < e for s, e in taken):
                continue
            piece = text[start:end]
            if bare and not _looks_like_repository(piece, text, end):
                continue
            taken.append((start, end))
            found.append(Candidate(piece, start, end, bare))
    return sorted(found, key=lambda c: c.start)


def _trim(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1] in _TRAILING:
        end -= 1
    return end


def _looks_like_repository(piece: str, text: str, end: int) -> bool:
    owner, _, name = piece.partition("/")
    if owner.lower() in NOT_OWNERS or owner.isdigit() or name.isdigit():
        return False
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix in FILE_SUFFIXES or name.startswith(".") or name.lower() in PLAIN_FILE_NAMES:
        return False
    return not (end < len(text) and text[end] == "/")  # a longer path: a file, not a repo
