"""Parse what owners paste (URLs, SSH remotes, ``owner/repo``) into exact request scopes.

The rule that matters most: never widen. A repository URL never becomes a whole account;
when a path is ambiguous (a nested group or a project on a GitLab-style forge), the narrower
reading wins and the owner sees it spelled out before confirming. Anything unparseable is
refused with a message that says why, naming the line.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from shared.scope import Scope, ScopeError, build_scope

MAX_LINE = 2048
MAX_LINES = 100

# Forges whose repositories are always exactly owner/name.
FLAT_HOSTS = frozenset(
    {
        "github.com",
        "bitbucket.org",
        "codeberg.org",
        "gitea.com",
        "sr.ht",
        "git.sr.ht",
        "huggingface.co",
    }
)
# Hosts that serve raw files of another forge: raw host -> forge host.
RAW_HOSTS = {"raw.githubusercontent.com": "github.com"}
# Pages of a repository that are not files: the URL still means "this repository".
REPO_PAGES = frozenset(
    {
        "issues",
        "pulls",
        "pull",
        "merge_requests",
        "wiki",
        "wikis",
        "releases",
        "tags",
        "branches",
        "commits",
        "actions",
        "settings",
        "network",
        "graphs",
        "security",
        "pulse",
        "activity",
        "packages",
        "pipelines",
        "jobs",
        "forks",
        "stargazers",
        "watchers",
    }
)
FILE_MARKERS = frozenset({"blob", "raw", "src"})  # GitHub/GitLab blob, raw; Bitbucket src
TREE_MARKERS = frozenset({"tree"})
ALLOWED_SCHEMES = frozenset({"http", "https", "ssh", "git", "git+ssh", "ssh+git"})
_SCP_LIKE = re.compile(r"^(?:[A-Za-z0-9._-]+@)?([A-Za-z0-9.-]+):(?!//)(.+)$")
_LINE_ANCHOR = re.compile(r"^L(\d{1,9})(?:-L?\d{1,9})?$")
_INVISIBLE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")


@dataclass(frozen=True)
class ParsedLine:
    """One pasted line and the scope it became, or the reason it could not."""

    number: int
    text: str
    scope: Scope | None = None
    error: ScopeError | None = None
    note: str | None = None


def parse_scopes(
    text: str,
    kind: str | None = None,
    default_host: str = "github.com",
    nested_hosts_default: bool = True,
) -> list[ParsedLine]:
    """Parse a line-separated list; each non-blank line gives one scope or one error.

    Args:
        kind: what the owner chose on the form (``owner``, ``repository``, ``file``,
            ``license``), or None to take what each input denotes.
        default_host: the host for bare ``owner`` or ``owner/name`` inputs.
        nested_hosts_default: whether hosts not known to be flat allow nested groups.
    """
    lines = text.splitlines()
    if len([line for line in lines if line.strip()]) > MAX_LINES:
        raise ScopeError("scope", "too_many_lines", f"at most {MAX_LINES} entries at a time")
    results = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            scope, note = parse_one(raw, kind, default_host, nested_hosts_default)
            results.append(ParsedLine(number, raw.strip(), scope=scope, note=note))
        except ScopeError as error:
            results.append(ParsedLine(number, raw.strip()[:200], error=error))
    return results


def parse_one(
    raw: str,
    kind: str | None = None,
    default_host: str = "github.com",
    nested_hosts_default: bool = True,
) -> tuple[Scope, str | None]:
    """Parse one input into a scope (and a note when a reading had to be chosen)."""
    text = _clean(raw)
    host, segments, explicit_host = _split(text, default_host)
    if host in RAW_HOSTS:
        host, segments = RAW_HOSTS[host], _raw_to_blob(segments)
    nested = host not in FLAT_HOSTS and nested_hosts_default
    fields, denoted, note = _interpret(host, segments, nested, kind)
    scope = build_scope(denoted, fields)  # malformed names are reported as such, first
    chosen = _choose_kind(kind, denoted, fields)
    return (scope if chosen == denoted else build_scope(chosen, fields)), note


def _clean(raw: str) -> str:
    if len(raw) > MAX_LINE:
        raise ScopeError("scope", "line_too_long", f"an entry is limited to {MAX_LINE} characters")
    text = _INVISIBLE.sub("", raw).strip().strip("<>\"'")
    if any(unicodedata.category(c) == "Cc" for c in text):
        raise ScopeError("scope", "control_characters", "the entry holds control characters")
    if not text.isascii():
        raise ScopeError(
            "scope",
            "non_ascii",
            "the entry holds non-ASCII characters (look-alike letters?); forge names are ASCII",
        )
    if not text:
        raise ScopeError("scope", "empty", "the entry is empty")
    return text


def _split(text: str, default_host: str) -> tuple[str, list[str], bool]:
    """Return (host, path segments, whether the host was given)."""
    if "://" in text:
        try:
            parts = urlsplit(text)
            parts.hostname  # noqa: B018  (a malformed bracketed host raises only here)
        except ValueError:  # "http://[::1/x", "http://[zz]/a"
            raise ScopeError("scope", "invalid_url", "this address is not a valid URL") from None
        if parts.scheme.lower() not in ALLOWED_SCHEMES:
            raise ScopeError(
                "scope", "unsupported_scheme", f"{parts.scheme}: links are not repository addresses"
            )
        host, path = (parts.hostname or ""), parts.path
        if parts.password:
            raise ScopeError(
                "scope",
                "credentials_in_url",
                "the address holds a password; remove it before pasting",
            )
        fragment = parts.fragment
    elif (scp := _SCP_LIKE.match(text)) and "." in scp.group(1):
        host, path, fragment = scp.group(1), scp.group(2), ""  # git@host:owner/name.git
    elif ":" in text.split("/", 1)[0]:
        raise ScopeError(
            "scope",
            "unsupported_scheme",
            "this is not a repository address (javascript:, data:, mailto: …)",
        )
    else:
        text, _, fragment = text.partition("#")
        text = text.split("?", 1)[0]
        first, _, rest = text.partition("/")
        if "." in first and rest:  # github.com/foo/bar
            host, path = first, rest
        elif "." in first and not rest and first.count(".") >= 1 and "@" not in first:
            raise ScopeError(
                "scope", "host_only", f"{first} is a host; add an account or repository"
            )
        else:
            host, path = default_host, text
            return _finish(host, path, fragment, explicit=False)
    return _finish(host, path, fragment, explicit=True)


def _finish(host: str, path: str, fragment: str, explicit: bool) -> tuple[str, list[str], bool]:
    host = host.lower().rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    if not host:
        raise ScopeError("scope", "invalid_host", "the address has no host")
    segments = [unquote(s) for s in path.split("/") if s]
    if any(s in (".", "..") for s in segments):
        raise ScopeError("scope", "invalid_path", "'.' and '..' are not allowed in an address")
    if fragment:
        segments.append("#" + fragment)
    return host, segments, explicit


def _raw_to_blob(segments: list[str]) -> list[str]:
    # raw.githubusercontent.com/owner/name/ref/path -> owner/name/blob/ref/path
    if len(segments) < 4:
        raise ScopeError("scope", "incomplete_address", "a raw-file address needs a file path")
    return segments[:2] + ["blob"] + segments[2:]


def _interpret(
    host: str, segments: list[str], nested: bool, kind: str | None
) -> tuple[dict, str, str | None]:
    """Map path segments to fields and the kind the address itself denotes."""
    anchor = segments.pop() if segments and segments[-1].startswith("#") else None
    if not segments:
        raise ScopeError("scope", "no_account", "the address names no account or repository")
    split = _find_marker(segments, nested)
    if split is not None:
        head, marker, tail = split
        if len(head) < 2:
            raise ScopeError("scope", "no_repository", "the address names no repository")
        owner, name = "/".join(head[:-1]), _strip_git(head[-1])
        if marker in FILE_MARKERS:
            return _file_fields(host, owner, name, tail, anchor)
        if marker in TREE_MARKERS and len(tail) > 1:
            raise ScopeError(
                "scope",
                "directory_address",
                "this is a folder; a request covers a whole repository or single files, "
                "so paste the repository address or each file's address",
            )
        return {"host": host, "owner": owner, "name": name}, "repository", None
    if len(segments) == 1:
        return {"host": host, "owner": segments[0]}, "owner", None
    if not nested and len(segments) > 2:
        raise ScopeError(
            "scope",
            "unexpected_path",
            f"on {host} an address is account/repository; "
            f"'{'/'.join(segments[2:])}' is not understood",
        )
    if nested and kind == "owner":
        # A nested group on a GitLab-style forge: the owner asked for the group itself.
        return {"host": host, "owner": "/".join(segments)}, "owner", None
    owner, name = "/".join(segments[:-1]), _strip_git(segments[-1])
    note = None
    if nested:
        note = (
            f"read as the project {name!r} of {owner!r}; if {owner + '/' + name!r} is a "
            "group, choose 'whole account' instead"
        )
    return {"host": host, "owner": owner, "name": name}, "repository", note


def _strip_git(name: str) -> str:
    return name[:-4] if name.endswith(".git") else name


def _find_marker(segments: list[str], nested: bool):
    """Split ``owner/…/name/<marker>/rest`` into (head, marker, tail), or None."""
    if "-" in segments[2:]:  # GitLab: group/sub/project/-/blob/ref/path
        at = segments.index("-", 2)
        if at + 1 >= len(segments):
            return segments[:at], "tree", []
        return segments[:at], segments[at + 1], segments[at + 2 :]
    if not nested:
        if len(segments) > 2 and (segments[2] in FILE_MARKERS | TREE_MARKERS | REPO_PAGES):
            return segments[:2], segments[2], segments[3:]
        return None
    for at in range(2, len(segments) - 1):  # legacy GitLab URLs without '/-/'
        if segments[at] in FILE_MARKERS | TREE_MARKERS:
            return segments[:at], segments[at], segments[at + 1 :]
    return None


def _file_fields(
    host: str, owner: str, name: str, tail: list[str], anchor: str | None
) -> tuple[dict, str, str | None]:
    if len(tail) < 2:
        raise ScopeError("scope", "incomplete_address", "a file address needs a branch and a path")
    path = "/".join(tail[1:])  # tail[0] is the branch, tag or commit
    fields = {"host": host, "owner": owner, "name": name, "path": path}
    note = f"path read after the branch {tail[0]!r}"
    if anchor and (line := _LINE_ANCHOR.match(anchor[1:])):
        fields["line"] = int(line.group(1))
    return fields, "file", note


def _choose_kind(kind: str | None, denoted: str, fields: dict) -> str:
    """Combine the kind the owner chose with what the address denotes; never widen."""
    if kind is None or kind == denoted:
        return denoted
    if kind == "owner" and denoted in ("repository", "file"):
        raise ScopeError(
            "scope",
            "would_widen",
            "this address names a repository, not a whole account; choose 'repository' "
            "or paste the account's address",
        )
    if kind == "license" and denoted == "repository":
        return "license"
    if kind == "repository" and denoted == "file":
        raise ScopeError(
            "scope",
            "kind_mismatch",
            "this is a file address; choose 'file' or paste the repository address",
        )
    if kind in ("repository", "license", "file") and denoted == "owner":
        raise ScopeError(
            "scope",
            "kind_mismatch",
            f"this names an account; a {kind} request needs account/repository",
        )
    if kind == "file" and denoted == "repository":
        raise ScopeError(
            "scope", "kind_mismatch", "a file request needs the file's address (…/blob/branch/path)"
        )
    raise ScopeError("scope", "kind_mismatch", f"this address does not fit a {kind} request")
