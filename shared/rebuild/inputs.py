"""Where a rebuild reads repositories from: git checkouts, plain directories, table exports.

* **git repositories** are read at ``HEAD`` with ``git ls-tree`` and ``git cat-file --batch``
  (the committed snapshot, not the working tree, so a rebuild is reproducible); submodules and
  symlinks are not contents and are skipped. The repository's directory SWHID is its root tree
  id, its revision the commit id, its creation time the committer time of its root commit.
* **plain directories** are walked (sorted, symlinks and VCS folders skipped); their directory
  SWHID is computed with ``swh.model``.
* **tables** (Parquet, JSON Lines, optionally gzipped) in The Stack's shape: ``repo_name`` or
  ``repository`` (``owner/name``) or ``owner`` and ``name``; ``path``; ``content``; optional
  ``host``, ``blob_id`` or ``swhid`` (checked against the content), ``directory_id``,
  ``revision_id``, ``stars`` / ``max_stars_count`` and ``repo_created`` (unix seconds).

A repository's identity (host, owner, name) comes from the ``origin`` remote URL of a git
checkout, from a list file (``PATH host/owner/name`` per line), or else from the folder layout
(``.../owner/name``) and the default host. Identities are checked like an opt-out request's
scope, so every released repository can be looked up and opted out.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson
import pyarrow.parquet as pq

from shared.rebuild.identity import blob_sha1, parse_swhid, plain_directory_swhid
from shared.scope import ScopeError, check_name, check_owner, normalize_host

SKIP_DIRS = frozenset({".git", ".hg", ".svn", ".bzr"})
TABLE_SUFFIXES = (".parquet", ".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")
_REMOTE = re.compile(
    r"^(?:[a-z+]+://(?:[^@/]+@)?(?P<h1>[^/:]+)(?::\d+)?/|(?:[^@]+@)?(?P<h2>[^:/]+):)"
    r"(?P<path>.+?)(?:\.git)?/?$"
)


class InputError(ValueError):
    """An input that cannot be read as a repository or a table of files."""


@dataclass(frozen=True)
class Identity:
    host: str
    owner: str
    name: str

    @property
    def key(self) -> str:
        """Lower-cased ``host/owner/name``: forges match names case-insensitively."""
        return f"{self.host}/{self.owner}/{self.name}".lower()

    def __str__(self) -> str:
        return f"{self.host}/{self.owner}/{self.name}"


def make_identity(host: str, owner: str, name: str, where: str) -> Identity:
    try:
        return Identity(normalize_host(host), check_owner(owner), check_name(name))
    except ScopeError as error:
        raise InputError(f"{where}: repository identity {host}/{owner}/{name}: {error}") from None


@dataclass
class Snapshot:
    """One repository's files at one point, with what is known about the repository."""

    identity: Identity
    paths: list[str]
    contents: list[bytes]
    source: str
    directory_swhid: str | None = None
    revision: str | None = None
    created: int | None = None
    stars: int | None = None
    given_ids: list[str | None] | None = None  # blob ids given by a table, checked later
    skipped: dict[str, int] = field(default_factory=dict)


class Source:
    """Something that yields snapshots; ``fingerprint`` changes whenever its content may."""

    description: str

    def fingerprint(self) -> str:
        raise NotImplementedError

    def snapshots(self) -> Iterator[Snapshot]:
        raise NotImplementedError


def _git(repo: Path, *args: str, data: bytes | None = None) -> bytes:
    done = subprocess.run(["git", "-C", str(repo), *args], input=data, capture_output=True,
                          check=False)
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise InputError(f"{repo}: git {args[0]} failed: {message[-1] if message else '?'}")
    return done.stdout


def identity_from_remote(url: str, where: str) -> Identity | None:
    match = _REMOTE.match(url.strip())
    if match is None:
        return None
    host = match.group("h1") or match.group("h2")
    owner, _, name = match.group("path").strip("/").rpartition("/")
    if not owner:
        return None
    return make_identity(host, owner, name, where)


class GitSource(Source):
    """A git checkout, read at HEAD."""

    def __init__(self, path: Path, identity: Identity | None = None, default_host: str = ""):
        self.path = path
        self.description = f"git:{path}"
        self._identity = identity
        self.default_host = default_host
        self._head: str | None = None

    def head(self) -> str:
        if self._head is None:
            self._head = _git(self.path, "rev-parse", "--verify", "HEAD^{commit}").decode().strip()
        return self._head

    def identity(self) -> Identity:
        if self._identity is None:
            url = subprocess.run(["git", "-C", str(self.path), "config", "--get",
                                  "remote.origin.url"], capture_output=True, text=True,
                                 check=False).stdout.strip()
            found = identity_from_remote(url, str(self.path)) if url else None
            self._identity = found or make_identity(
                self.default_host, self.path.resolve().parent.name, self.path.resolve().name,
                str(self.path))
        return self._identity

    def fingerprint(self) -> str:
        return f"git:{self.identity().key}:{self.head()}"

    def snapshots(self) -> Iterator[Snapshot]:
        head = self.head()
        listing = _git(self.path, "ls-tree", "-r", "-z", "--full-tree", head)
        blobs, skipped = [], {}
        for entry in listing.split(b"\x00"):
            if not entry:
                continue
            meta, _, raw_path = entry.partition(b"\t")
            mode, kind, sha = meta.decode().split()
            if kind != "blob":
                skipped["submodule"] = skipped.get("submodule", 0) + 1
            elif mode == "120000":
                skipped["symlink"] = skipped.get("symlink", 0) + 1
            else:
                blobs.append((raw_path.decode("utf-8", "surrogateescape"), sha))
        contents = self._cat(sha for _, sha in blobs)
        tree = _git(self.path, "rev-parse", f"{head}^{{tree}}").decode().strip()
        roots = _git(self.path, "rev-list", "--max-parents=0", head).decode().split()
        times = [int(_git(self.path, "show", "-s", "--format=%ct", r).decode()) for r in roots]
        yield Snapshot(self.identity(), [p for p, _ in blobs], contents, self.description,
                       directory_swhid=f"swh:1:dir:{tree}", revision=head,
                       created=min(times) if times else None,
                       given_ids=[sha for _, sha in blobs], skipped=skipped)

    def _cat(self, shas: Iterator[str]) -> list[bytes]:
        request = "".join(f"{sha}\n" for sha in shas).encode()
        out = _git(self.path, "cat-file", "--batch", data=request)
        contents, position = [], 0
        while position < len(out):
            header_end = out.index(b"\n", position)
            _, _, size = out[position:header_end].split()
            start = header_end + 1
            contents.append(out[start:start + int(size)])
            position = start + int(size) + 1
        return contents


class DirectorySource(Source):
    """A plain directory (no VCS): every regular file under it."""

    def __init__(self, path: Path, identity: Identity):
        self.path, self._identity = path, identity
        self.description = f"dir:{path}"

    def _files(self) -> list[tuple[str, Path]]:
        found = []
        for directory, dirnames, filenames in os.walk(self.path, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            for name in sorted(filenames):
                full = Path(directory) / name
                if not full.is_symlink() and full.is_file():
                    found.append((full.relative_to(self.path).as_posix(), full))
        return found

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for relative, full in self._files():
            stat = full.stat()
            digest.update(f"{relative}\x00{stat.st_size}\x00{stat.st_mtime_ns}\n".encode())
        return f"dir:{self._identity.key}:{digest.hexdigest()}"

    def snapshots(self) -> Iterator[Snapshot]:
        files = self._files()
        yield Snapshot(self._identity, [r for r, _ in files], [f.read_bytes() for _, f in files],
                       self.description, directory_swhid=plain_directory_swhid(self.path))


class TableSource(Source):
    """A Parquet or JSON Lines export in The Stack's shape, one snapshot per repository."""

    def __init__(self, path: Path, default_host: str):
        self.path, self.default_host = path, default_host
        self.description = f"table:{path}"

    def fingerprint(self) -> str:
        stat = self.path.stat()
        return f"table:{self.path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"

    def read(self) -> pa.Table:
        name = self.path.name.lower()
        try:
            if name.endswith(".parquet"):
                return pq.read_table(self.path)
            return pajson.read_json(self.path)
        except (pa.ArrowInvalid, OSError) as error:
            raise InputError(f"{self.path}: cannot read: {error}") from None

    def snapshots(self) -> Iterator[Snapshot]:
        table = _normalise_table(self.read(), self.default_host, str(self.path))
        table = table.sort_by([("__repo", "ascending"), ("path", "ascending")])
        repos = table.column("__repo").combine_chunks()
        if len(table) == 0:
            return
        starts = [0, *(pc.indices_nonzero(pc.not_equal(repos[1:], repos[:-1])).to_numpy() + 1)]
        bounds = [*starts, len(table)]
        for begin, end in zip(bounds[:-1], bounds[1:], strict=True):
            yield self._snapshot(table.slice(begin, end - begin))

    def _snapshot(self, part: pa.Table) -> Snapshot:
        first = part.slice(0, 1).to_pylist()[0]
        identity = make_identity(first["host"], first["owner"], first["name"], str(self.path))
        given = part.column("__given").to_pylist()
        ids = []
        for value in given:
            try:
                ids.append(parse_swhid(value) if value else None)
            except ValueError as error:
                raise InputError(f"{self.path}: {identity}: {error}") from None
        return Snapshot(identity, part.column("path").to_pylist(),
                        part.column("content").to_pylist(), self.description,
                        directory_swhid=first.get("__dir"), revision=first.get("__rev"),
                        created=first.get("__created"), stars=first.get("__stars"),
                        given_ids=ids)


def _first(names: list[str], *candidates: str) -> str | None:
    return next((c for c in candidates if c in names), None)


def _normalise_table(table: pa.Table, default_host: str, where: str) -> pa.Table:
    names = table.column_names
    n = len(table)
    if "path" not in names or "content" not in names:
        raise InputError(f"{where}: a table needs 'path' and 'content' columns (has "
                         f"{', '.join(names)})")
    repo = _first(names, "repo_name", "repository", "max_stars_repo_name")
    if repo is not None:
        parts = pc.extract_regex(table[repo].cast(pa.string()), r"^(?P<o>.+)/(?P<n>[^/]+)$")
        owner, name = pc.struct_field(parts, [0]), pc.struct_field(parts, [1])
    elif "owner" in names and "name" in names:
        owner, name = table["owner"].cast(pa.string()), table["name"].cast(pa.string())
    else:
        raise InputError(f"{where}: a table needs 'repo_name' (owner/name) or 'owner' and 'name'")
    if owner.null_count:
        raise InputError(f"{where}: {owner.null_count} row(s) have no owner/name repository")
    host = (table["host"].cast(pa.string()) if "host" in names
            else pa.array([default_host] * n, pa.string()))
    content = table["content"]
    if not pa.types.is_binary(content.type):
        content = content.cast(pa.binary())
    given = _first(names, "blob_id", "swhid", "hexsha")
    stars = _first(names, "stars", "max_stars_count")
    columns = {
        "host": host, "owner": owner, "name": name, "path": table["path"].cast(pa.string()),
        "content": content,
        "__given": table[given].cast(pa.string()) if given else pa.nulls(n, pa.string()),
        "__dir": table["directory_id"].cast(pa.string()) if "directory_id" in names
        else pa.nulls(n, pa.string()),
        "__rev": table["revision_id"].cast(pa.string()) if "revision_id" in names
        else pa.nulls(n, pa.string()),
        "__stars": table[stars].cast(pa.int64()) if stars else pa.nulls(n, pa.int64()),
        "__created": table["repo_created"].cast(pa.int64()) if "repo_created" in names
        else pa.nulls(n, pa.int64()),
    }
    out = pa.table(columns)
    key = pc.binary_join_element_wise(pc.utf8_lower(out["host"]), pc.utf8_lower(out["owner"]),
                                      pc.utf8_lower(out["name"]), "/")
    out = out.append_column("__repo", key)
    directory = out["__dir"]
    if directory.null_count < n:  # The Stack gives bare tree ids: store them as SWHIDs
        out = out.set_column(out.column_names.index("__dir"), "__dir", pc.if_else(
            pc.starts_with(directory, "swh:"), directory,
            pc.binary_join_element_wise("swh:1:dir:", directory, "")))
    return out


# -- discovery -------------------------------------------------------------------------------


def read_list_file(path: Path) -> list[tuple[Path, str | None]]:
    """Lines ``PATH [host/owner/name]``; blank lines and ``#`` comments are skipped."""
    entries = []
    base = path.parent
    for number, raw in enumerate(path.read_text("utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) > 2:
            raise InputError(f"{path}:{number}: expected 'PATH [host/owner/name]'")
        target = Path(parts[0]) if Path(parts[0]).is_absolute() else base / parts[0]
        entries.append((target, parts[1] if len(parts) == 2 else None))
    return entries


def _named(spec: str, where: str) -> Identity:
    host, _, rest = spec.partition("/")
    owner, _, name = rest.rpartition("/")
    return make_identity(host, owner, name, where)


def _is_git(path: Path) -> bool:
    return (path / ".git").exists()


def discover(paths: list[Path], default_host: str = "github.com",
             list_file: Path | None = None) -> list[Source]:
    """Turn command-line inputs into sources, sorted by description (a stable order)."""
    entries: list[tuple[Path, str | None]] = [(p, None) for p in paths]
    if list_file is not None:
        entries += read_list_file(list_file)
    sources: list[Source] = []
    for path, spec in entries:
        if not path.exists():
            raise InputError(f"{path}: no such file or directory")
        named = _named(spec, str(path)) if spec else None
        if path.is_file():
            if not path.name.lower().endswith(TABLE_SUFFIXES):
                raise InputError(f"{path}: not a table (.parquet, .jsonl, .jsonl.gz)")
            sources.append(TableSource(path, default_host))
        elif _is_git(path):
            sources.append(GitSource(path, named, default_host))
        elif named is None and (checkouts := _checkouts(path)):
            sources.extend(GitSource(c, None, default_host) for c in checkouts)
        else:
            identity = named or make_identity(default_host, path.resolve().parent.name,
                                              path.resolve().name, str(path))
            sources.append(DirectorySource(path, identity))
    return sorted(sources, key=lambda s: s.description)


def _checkouts(folder: Path) -> list[Path]:
    """Git checkouts directly in ``folder`` or one level down (``owner/name`` layouts)."""
    found = []
    for child in sorted(p for p in folder.iterdir() if p.is_dir() and p.name not in SKIP_DIRS):
        if _is_git(child):
            found.append(child)
        else:
            found.extend(g for g in sorted(child.iterdir()) if g.is_dir() and _is_git(g))
    return found


def content_ids(contents: list[bytes]) -> list[str]:
    return [blob_sha1(data) for data in contents]
