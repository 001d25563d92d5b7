"""Validation of the structured scope of a request (host, owner, repository name, path).

Forges treat host and owner case-insensitively; ``normalize_host`` and ``owner_key`` give the
forms used for matching. Errors are ``ScopeError`` with a stable ``code`` and a message that
says why the value was refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_HOST = 253
MAX_OWNER = 255
MAX_NAME = 255
MAX_PATH = 1024

_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# Owners are accounts, organisations or (on GitLab-style forges) nested groups.
_OWNER_SEGMENT = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9._-]{0,99})$")
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,255}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

FIELDS_BY_KIND: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    # kind: (required, allowed beyond required)
    "owner": (frozenset({"host", "owner"}), frozenset()),
    "repository": (frozenset({"host", "owner", "name"}), frozenset()),
    "file": (frozenset({"host", "owner", "name", "path"}), frozenset({"line", "content_sha256"})),
    "license": (frozenset({"host", "owner", "name"}), frozenset()),
}
SCOPE_FIELDS = ("host", "owner", "name", "path", "line", "content_sha256")


class ScopeError(ValueError):
    """A scope value that cannot be accepted."""

    def __init__(self, field: str, code: str, message: str):
        super().__init__(message)
        self.field = field
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Scope:
    kind: str
    host: str
    owner: str
    name: str | None = None
    path: str | None = None
    line: int | None = None
    content_sha256: str | None = None

    def describe(self) -> str:
        """Say in words exactly what this scope removes."""
        base = f"{self.host}/{self.owner}"
        if self.kind == "owner":
            return f"every repository of {base}, current and future"
        if self.kind == "repository":
            return f"the repository {base}/{self.name}"
        if self.kind == "license":
            return f"the license verdict of {base}/{self.name}"
        line = f" (line {self.line})" if self.line else ""
        return f"the file {self.path}{line} in {base}/{self.name}"


def normalize_host(value: str) -> str:
    """Return the host in lower case, refusing anything that is not a DNS name."""
    host = value.strip().lower().rstrip(".")
    if not host or len(host) > MAX_HOST:
        raise ScopeError("host", "invalid_host", "host must be a DNS name of 1 to 253 characters")
    labels = host.split(".")
    # A top-level label is never all digits: this refuses IP literals too.
    if (
        len(labels) < 2
        or not all(_HOST_LABEL.match(label) for label in labels)
        or labels[-1].isdigit()
    ):
        raise ScopeError("host", "invalid_host", f"{value!r} is not a host name such as github.com")
    return host


def check_owner(value: str) -> str:
    """Return the owner (account, organisation or nested group) if well formed."""
    owner = value.strip().strip("/")
    if not owner or len(owner) > MAX_OWNER:
        raise ScopeError("owner", "invalid_owner", "owner must be 1 to 255 characters")
    for segment in owner.split("/"):
        if not _OWNER_SEGMENT.match(segment) or segment in {".", ".."}:
            raise ScopeError(
                "owner",
                "invalid_owner",
                f"{value!r} is not an account or organisation name "
                "(letters, digits, '.', '_', '-'; groups separated by '/')",
            )
    return owner


def check_name(value: str) -> str:
    """Return the repository name if well formed (a trailing ``.git`` is dropped)."""
    name = value.strip()
    if name.endswith(".git"):
        name = name[:-4]
    if not _NAME.match(name) or name in {".", ".."}:
        raise ScopeError(
            "name",
            "invalid_name",
            f"{value!r} is not a repository name (letters, digits, '.', '_', '-')",
        )
    return name


def check_path(value: str) -> str:
    """Return a repository-relative file path if it is safe and well formed."""
    path = value.strip()
    if not path or len(path) > MAX_PATH:
        raise ScopeError("path", "invalid_path", "path must be 1 to 1024 characters")
    if _CONTROL.search(path) or "\\" in path:
        raise ScopeError("path", "invalid_path", "path must not hold control characters or '\\'")
    if path.startswith("/") or any(part in {"", ".", ".."} for part in path.split("/")):
        raise ScopeError(
            "path",
            "invalid_path",
            "path must be relative to the repository root, without empty, '.' or '..' parts",
        )
    return path


def check_sha256(value: str) -> str:
    digest = value.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise ScopeError("content_sha256", "invalid_sha256", "content_sha256 must be 64 hex digits")
    return digest


def build_scope(kind: str, fields: dict) -> Scope:
    """Validate the fields a request of ``kind`` needs and return its normalised scope.

    Raises:
        ScopeError: a field is missing, not allowed for this kind, or malformed.
    """
    if kind not in FIELDS_BY_KIND:
        raise ScopeError("kind", "invalid_kind", f"kind must be one of {', '.join(FIELDS_BY_KIND)}")
    required, optional = FIELDS_BY_KIND[kind]
    present = {k for k in SCOPE_FIELDS if fields.get(k) is not None}
    for field in sorted(required - present):
        raise ScopeError(field, "missing_field", f"a {kind} request needs {field}")
    for field in sorted(present - required - optional):
        raise ScopeError(field, "field_not_allowed", f"a {kind} request has no {field}")
    line = fields.get("line")
    if line is not None and (isinstance(line, bool) or not isinstance(line, int) or line < 1):
        raise ScopeError("line", "invalid_line", "line must be a positive integer")
    sha = fields.get("content_sha256")
    return Scope(
        kind=kind,
        host=normalize_host(fields["host"]),
        owner=check_owner(fields["owner"]),
        name=check_name(fields["name"]) if "name" in required else None,
        path=check_path(fields["path"]) if "path" in required else None,
        line=line,
        content_sha256=check_sha256(sha) if sha is not None else None,
    )
