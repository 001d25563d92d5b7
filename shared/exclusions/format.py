"""The exclusion list body: one rule per line, RFC 8785 canonical JSON, sorted and unique.

Rule kinds and their canonical fields (every rule has exactly these keys)::

    {"host":"github.com","kind":"owner","owner":"octo"}
    {"host":"github.com","kind":"repository","name":"spoon","owner":"octo"}
    {"host":"github.com","kind":"file","name":"spoon","owner":"octo","path":"src/a.py"}
    {"host":"github.com","kind":"file","name":"spoon","owner":"octo","path":"a.py","sha256":"<hex>"}
    {"kind":"content","swhid":"swh:1:cnt:<40 hex>"}

The body is the rule lines sorted by their UTF-8 bytes, without duplicates, each ending in
"\\n" (an empty list is the empty body). ``parse_body`` refuses anything else, so one list has
exactly one spelling and its SHA-256 identifies it.

Decisions:

* **Case.** Host, owner *and repository name* are lower-cased when a rule is made and when a
  candidate is matched: GitHub, GitLab, Bitbucket and Gitea resolve names case-insensitively,
  so ``Octo/Spoon`` and ``octo/spoon`` are the same repository, and an opt-out list errs on the
  side of leaving code out. Paths are case-sensitive, as git is.
* **Content.** A content rule names a blob by its SWHID; a bare git blob SHA-1 (40 hex) is
  accepted on input and stored as ``swh:1:cnt:<sha1>`` (a content SWHID *is* the git blob
  hash), so both spellings give one rule. It catches forks and copies anywhere.
* **File rules.** A file rule excludes the path in that repository whatever its content; the
  optional ``sha256`` records which content was reviewed and does not narrow the match.
* **Privacy mode.** With a salt (``new_salt()``; 32 random bytes, hex in the manifest) every
  rule is published as ``{"h":"<hex>","kind":"<kind>"}`` with
  ``h = SHA-256(salt || "<kind>:" || identifier)``, the identifier being
  ``host/owner`` (owner), ``host/owner/name`` (repository), ``host/owner/name/path`` (file,
  path as is, the rest lower-cased) or ``swh:1:cnt:<sha1>`` (content). The kind prefix keeps
  kinds apart; the file rule's ``sha256`` is not published. A list is either all plain or
  all hashed.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from shared.canonical import CanonicalJSONError, canonical_json, load_canonical

KINDS = ("owner", "repository", "file", "content")
_FIELDS = {
    "owner": {"kind", "host", "owner"},
    "repository": {"kind", "host", "owner", "name"},
    "file": {"kind", "host", "owner", "name", "path"},
    "content": {"kind", "swhid"},
}
_HEX40 = re.compile(r"[0-9a-f]{40}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_SWHID = re.compile(r"swh:1:cnt:([0-9a-f]{40})")
MAX_FIELD = 4096

Rule = dict[str, str]


class RuleError(ValueError):
    """A rule or a body that is not in the format above."""


# -- making rules --------------------------------------------------------------------------------


def _segment(value: Any, what: str, *, lower: bool = True, slash: bool = False) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_FIELD:
        raise RuleError(f"{what} must be a non-empty string of at most {MAX_FIELD} characters")
    if any(c < " " or c == "\x7f" for c in value):
        raise RuleError(f"{what} must not contain control characters")
    if not slash and "/" in value:
        raise RuleError(f"{what} must not contain '/'")
    if value != value.strip():
        raise RuleError(f"{what} must not start or end with spaces")
    return value.lower() if lower else value


def _path(value: Any) -> str:
    path = _segment(value, "path", lower=False, slash=True)
    parts = path.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise RuleError(f"path {path!r} must be relative and normalised (no '', '.', '..')")
    return path


def content_id(blob: str) -> str:
    """Return ``swh:1:cnt:<sha1>`` for a git blob SHA-1 or a content SWHID (any hex case)."""
    if not isinstance(blob, str):
        raise RuleError("a content id must be a string")
    text = blob.strip().lower()
    if _HEX40.fullmatch(text):
        return "swh:1:cnt:" + text
    if _SWHID.fullmatch(text):
        return text
    raise RuleError(f"{blob!r} is neither a git blob SHA-1 nor a swh:1:cnt: SWHID")


def owner_rule(host: str, owner: str) -> Rule:
    return {"kind": "owner", "host": _segment(host, "host"), "owner": _segment(owner, "owner")}


def repository_rule(host: str, owner: str, name: str) -> Rule:
    rule = owner_rule(host, owner)
    return {**rule, "kind": "repository", "name": _segment(name, "name")}


def file_rule(host: str, owner: str, name: str, path: str, sha256: str | None = None) -> Rule:
    rule = {**repository_rule(host, owner, name), "kind": "file", "path": _path(path)}
    if sha256 is not None:
        if not isinstance(sha256, str) or not _HEX64.fullmatch(sha256.lower()):
            raise RuleError("a file rule's sha256 must be 64 hex digits")
        rule["sha256"] = sha256.lower()
    return rule


def content_rule(blob: str) -> Rule:
    return {"kind": "content", "swhid": content_id(blob)}


def validate_rule(rule: Mapping[str, Any]) -> Rule:
    """Check a plain rule strictly (exact keys, already normalised) and return it as a dict."""
    if not isinstance(rule, Mapping):
        raise RuleError("a rule must be a JSON object")
    kind = rule.get("kind")
    if kind not in _FIELDS:
        raise RuleError(f"unknown rule kind {kind!r}")
    keys = set(rule)
    allowed = _FIELDS[kind] | ({"sha256"} if kind == "file" else set())
    if not _FIELDS[kind] <= keys <= allowed:
        raise RuleError(f"a {kind} rule has exactly the keys {sorted(_FIELDS[kind])}")
    if kind == "owner":
        made = owner_rule(rule["host"], rule["owner"])
    elif kind == "repository":
        made = repository_rule(rule["host"], rule["owner"], rule["name"])
    elif kind == "file":
        made = file_rule(
            rule["host"], rule["owner"], rule["name"], rule["path"], rule.get("sha256")
        )
    else:
        made = content_rule(rule["swhid"])
    if made != dict(rule):
        raise RuleError(f"rule is not normalised (lower-case host/owner/name/hex): {dict(rule)}")
    return made


# -- privacy mode --------------------------------------------------------------------------------


def new_salt() -> bytes:
    return secrets.token_bytes(32)


def _digest(salt: bytes, kind: str, identifier: str) -> str:
    return hashlib.sha256(salt + f"{kind}:{identifier}".encode()).hexdigest()


def identifier(rule: Mapping[str, str]) -> str:
    """The string a plain rule is hashed from in privacy mode."""
    kind = rule["kind"]
    if kind == "content":
        return rule["swhid"]
    parts = [rule["host"], rule["owner"]]
    if kind in ("repository", "file"):
        parts.append(rule["name"])
    if kind == "file":
        parts.append(rule["path"])
    return "/".join(parts)


def hash_rule(rule: Mapping[str, str], salt: bytes) -> Rule:
    plain = validate_rule(rule)
    return {"kind": plain["kind"], "h": _digest(salt, plain["kind"], identifier(plain))}


def _validate_hashed(rule: Any) -> Rule:
    if not isinstance(rule, Mapping) or set(rule) != {"kind", "h"}:
        raise RuleError('a hashed rule has exactly the keys "h" and "kind"')
    if rule["kind"] not in _FIELDS or not isinstance(rule["h"], str):
        raise RuleError(f"unknown rule kind {rule['kind']!r}")
    if not _HEX64.fullmatch(rule["h"]):
        raise RuleError("a hashed rule's h must be 64 lower-case hex digits")
    return dict(rule)


# -- bodies --------------------------------------------------------------------------------------


def build_body(rules: Iterable[Mapping[str, str]], salt: bytes | None = None) -> bytes:
    """Serialise rules (plain; hashed here when ``salt`` is given) as a canonical body."""
    lines = set()
    for rule in rules:
        checked = hash_rule(rule, salt) if salt is not None else validate_rule(rule)
        lines.add(canonical_json(checked))
    return b"".join(line + b"\n" for line in sorted(lines))


def parse_body(body: bytes, *, hashed: bool = False) -> list[Rule]:
    """Parse a body strictly: canonical lines, sorted, unique, valid rules, one mode."""
    if not isinstance(body, bytes):
        raise RuleError("a body is bytes")
    if not body:
        return []
    if not body.endswith(b"\n"):
        raise RuleError("the body must end with a newline")
    rules = []
    previous = None
    for number, line in enumerate(body[:-1].split(b"\n"), 1):
        if previous is not None and line <= previous:
            raise RuleError(f"line {number}: lines must be sorted and unique")
        previous = line
        try:
            value = load_canonical(line)
        except CanonicalJSONError as error:
            raise RuleError(f"line {number}: {error}") from None
        except UnicodeEncodeError:  # rfc8785 cannot sort a key holding a lone surrogate
            raise RuleError(f"line {number}: not JSON: a key holds a lone surrogate") from None
        try:
            rules.append(_validate_hashed(value) if hashed else validate_rule(value))
        except RuleError as error:
            raise RuleError(f"line {number}: {error}") from None
    return rules


# -- matching ------------------------------------------------------------------------------------


class Matcher:
    """Answers whether a repository or file is excluded, in O(1) set/dict look-ups.

    Build it from a body (and the manifest's salt in privacy mode). The body is checked as
    strictly as ``parse_body`` checks it, but in columns (``loading.load_rules``): ``table``
    holds the rules, ``rules`` gives them as dicts on demand and ``kinds`` says which kinds
    occur. ``excluded`` returns the broadest matching rule (owner, then repository, then
    file, then content) or None; its dicts are built on its first call.
    """

    def __init__(self, body: bytes, salt: bytes | None = None) -> None:
        from shared.exclusions.loading import RuleList, load_rules

        self.salt = salt
        self.table = load_rules(body, hashed=salt is not None)
        self.rules = RuleList(self.table)
        self.kinds = frozenset(self.table["kind"].unique().to_pylist())
        self._built = False

    def _build(self) -> None:
        self._owners: dict[tuple[str, str], Rule] = {}
        self._repos: dict[tuple[str, str, str], Rule] = {}
        self._files: dict[tuple[str, str, str, str], Rule] = {}
        self._content: dict[str, Rule] = {}
        self._hashed: dict[tuple[str, str], Rule] = {}
        for rule in self.rules:
            kind = rule["kind"]
            if self.salt is not None:
                self._hashed[(kind, rule["h"])] = rule
            elif kind == "owner":
                self._owners[(rule["host"], rule["owner"])] = rule
            elif kind == "repository":
                self._repos[(rule["host"], rule["owner"], rule["name"])] = rule
            elif kind == "file":
                self._files[(rule["host"], rule["owner"], rule["name"], rule["path"])] = rule
            else:
                self._content[rule["swhid"]] = rule
        self._built = True

    def __len__(self) -> int:
        return len(self.rules)

    def excluded(
        self,
        host: str,
        owner: str,
        name: str,
        path: str | None = None,
        blob_sha1: str | None = None,
    ) -> Rule | None:
        if not self._built:
            self._build()
        host, owner, name = host.lower(), owner.lower(), name.lower()
        swhid = content_id(blob_sha1) if blob_sha1 else None
        if self.salt is not None:
            return self._excluded_hashed(host, owner, name, path, swhid)
        rule = self._owners.get((host, owner)) or self._repos.get((host, owner, name))
        if rule is None and path is not None:
            rule = self._files.get((host, owner, name, path))
        if rule is None and swhid is not None:
            rule = self._content.get(swhid)
        return rule

    def _excluded_hashed(
        self, host: str, owner: str, name: str, path: str | None, swhid: str | None
    ) -> Rule | None:
        salt = self.salt
        assert salt is not None
        candidates = [
            ("owner", f"{host}/{owner}"),
            ("repository", f"{host}/{owner}/{name}"),
        ]
        if path is not None:
            candidates.append(("file", f"{host}/{owner}/{name}/{path}"))
        if swhid is not None:
            candidates.append(("content", swhid))
        for kind, ident in candidates:
            rule = self._hashed.get((kind, _digest(salt, kind, ident)))
            if rule is not None:
                return rule
        return None
