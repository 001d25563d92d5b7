"""The dataset catalog: which releases include which repositories, and owners' lookups.

A catalog file is JSON Lines, one repository of one release per line::

    {"host": "github.com", "owner": "octocat", "name": "hello", "release": "v2", "files": 12}

``file_count`` is accepted for ``files``; other keys are ignored, so a pipeline's manifest may
carry more. Loading is streamed (one line in memory at a time, bounded in length) and
idempotent per release: a release named in the file is replaced by the file's lines, releases
the file does not name are left alone. When a file lists the same repository twice for one
release, the last line wins. A bad line aborts the whole load and nothing changes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from typing import IO

from peewee import EXCLUDED, fn

from server.audit import record_action
from server.db import db, is_postgres
from server.errors import ApiError
from server.models import CatalogEntry, CatalogRelease, Request, utcnow
from server.serialize import as_utc
from shared.scope import Scope, ScopeError, check_name, check_owner, normalize_host

MAX_LINE = 16_384  # bytes (characters for text streams); a real line is well under 1 kB
MAX_INT = 2**31 - 1  # counters are 32-bit INTEGER columns on PostgreSQL
BATCH = 1000
MAX_NAMES_PER_RELEASE = 500
MAX_REQUESTS = 200
_RELEASE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_FILE_KINDS = ("repository", "file", "license")
_PG_LOCK_KEY = 0x0F7_CA7A  # any fixed number; only catalog loads take this advisory lock
_KEY = (CatalogEntry.release, CatalogEntry.host, CatalogEntry.owner_key, CatalogEntry.name_key)

Progress = Callable[[int], object]


class _BadLine(ValueError):
    """A catalog line that cannot be loaded; ``field`` names the culprit when known."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


# --- loading ------------------------------------------------------------------------------


def load_catalog(
    stream: IO[bytes] | IO[str] | Iterable[bytes | str],
    progress: Progress | None = None,
    actor: str = "cli",
) -> dict:
    """Load a JSON Lines catalog from ``stream``, replacing each release it names.

    Args:
        stream: a binary or text file (read line by line), or any iterable of lines.
        progress: called now and then with the number of bytes (characters, for text
            streams) read since its last call.
        actor: who loads it, for the audit record.

    Returns:
        ``{"lines": N, "releases": [{"name", "repositories", "files", "lines",
        "previous": {"repositories", "files"} | None}, ...]}`` in the file's order.

    Raises:
        ApiError: 422 ``invalid_catalog_line`` (``details.line``), with nothing changed.
    """
    loader = _Loader(progress)
    with db.atomic():
        if is_postgres():  # one load at a time; SQLite's BEGIN IMMEDIATE already serialises
            db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_PG_LOCK_KEY,))
        for number, line in enumerate(_lines(stream), start=1):
            loader.read(number, line)
        loader.flush()
        summary = [loader.finish(release, actor) for release in loader.releases.values()]
    return {"lines": loader.lines, "releases": summary}


def _lines(stream) -> Iterator[bytes | str]:
    """Yield the lines of ``stream`` without ever holding more than one bounded line."""
    if not hasattr(stream, "readline"):
        yield from stream
        return
    while True:
        line = stream.readline(MAX_LINE + 1)
        if not line:
            return
        yield line


class _Loader:
    """The state of one load: releases seen so far and the batch waiting to be written."""

    def __init__(self, progress: Progress | None):
        self.progress = progress
        self.releases: dict[str, dict] = {}
        self.batch: dict[tuple, dict] = {}
        self.lines = 0
        self.unreported = 0

    def read(self, number: int, raw: bytes | str) -> None:
        self.unreported += len(raw)
        try:
            row = _parse(raw)
        except _BadLine as error:
            details = {"line": number}
            if error.field:
                details["field"] = error.field
            raise ApiError(
                422, "invalid_catalog_line", f"line {number}: {error}", details
            ) from None
        if row is None:
            return
        self.lines += 1
        release = self._release(row.pop("release"))
        release["lines"] += 1
        row["release"] = release["id"]
        # Within a batch the last line wins here; across batches the upsert does the same.
        self.batch[(row["release"], row["host"], row["owner_key"], row["name_key"])] = row
        if len(self.batch) >= BATCH:
            self.flush()

    def _release(self, name: str) -> dict:
        """Return the release being loaded, emptying it the first time the file names it."""
        if name in self.releases:
            return self.releases[name]
        row = CatalogRelease.get_or_none(CatalogRelease.name == name)
        previous = None
        if row is None:
            row = CatalogRelease.create(name=name)
        else:
            previous = {"repositories": row.repositories, "files": row.files}
            CatalogEntry.delete().where(CatalogEntry.release == row.id).execute()
        self.releases[name] = {"id": row.id, "name": name, "lines": 0, "previous": previous}
        return self.releases[name]

    def flush(self) -> None:
        if self.batch:
            (
                CatalogEntry.insert_many(list(self.batch.values()))
                .on_conflict(
                    conflict_target=_KEY,
                    update={
                        CatalogEntry.owner: EXCLUDED.owner,
                        CatalogEntry.name: EXCLUDED.name,
                        CatalogEntry.file_count: EXCLUDED.file_count,
                    },
                )
                .execute()
            )
            self.batch.clear()
        if self.progress and self.unreported:
            self.progress(self.unreported)
            self.unreported = 0

    def finish(self, release: dict, actor: str) -> dict:
        """Recount a loaded release, store its counters and audit the load."""
        repositories, files = (
            CatalogEntry.select(
                fn.COUNT(CatalogEntry.id), fn.COALESCE(fn.SUM(CatalogEntry.file_count), 0)
            )
            .where(CatalogEntry.release == release["id"])
            .scalar(as_tuple=True)
        )
        if files > MAX_INT:
            raise ApiError(
                422,
                "catalog_too_large",
                f"release {release['name']} counts more than {MAX_INT} files",
                {"release": release["name"]},
            )
        CatalogRelease.update(repositories=repositories, files=files, loaded_at=utcnow()).where(
            CatalogRelease.id == release["id"]
        ).execute()
        counts = {"repositories": int(repositories), "files": int(files)}
        record_action(
            actor,
            "catalog.loaded",
            f"release:{release['id']}",
            details={"release": release["name"], **counts},
        )
        return {
            "name": release["name"],
            **counts,
            "lines": release["lines"],
            "previous": release["previous"],
        }


def _parse(raw: bytes | str) -> dict | None:
    """Return the entry a line describes, None for a blank line; raise ``_BadLine``."""
    if len(raw) > MAX_LINE and not (len(raw) == MAX_LINE + 1 and raw[-1:] in (b"\n", "\n")):
        raise _BadLine(f"longer than {MAX_LINE} bytes")
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _BadLine("not UTF-8") from None
    text = raw.strip()
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError as error:
        raise _BadLine(f"not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise _BadLine("not a JSON object")
    for field in ("host", "owner", "name", "release"):
        if field not in data:
            raise _BadLine(f"missing {field}", field)
        if not isinstance(data[field], str):
            raise _BadLine(f"{field} must be a string", field)
    try:
        host = normalize_host(data["host"])
        owner = check_owner(data["owner"])
        name = check_name(data["name"])
    except ScopeError as error:
        raise _BadLine(error.message, error.field) from None
    if not _RELEASE.match(data["release"]):
        raise _BadLine("release must be 1 to 128 letters, digits, '.', '_' or '-'", "release")
    return {
        "release": data["release"],
        "host": host,
        "owner": owner,
        "owner_key": owner.lower(),
        "name": name,
        "name_key": name.lower(),
        "file_count": _file_count(data),
    }


def _file_count(data: dict) -> int:
    if "files" in data and "file_count" in data:
        raise _BadLine("give files or file_count, not both", "files")
    field = "files" if "files" in data else "file_count"
    if field not in data:
        raise _BadLine("missing files", "files")
    value = data[field]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_INT:
        raise _BadLine(f"{field} must be an integer from 0 to {MAX_INT}", field)
    return value


def list_releases() -> list[dict]:
    """Return every loaded release, the most recently first-loaded first."""
    return [
        {
            "name": r.name,
            "loaded_at": as_utc(r.loaded_at),
            "repositories": r.repositories,
            "files": r.files,
        }
        for r in CatalogRelease.select().order_by(CatalogRelease.id.desc())
    ]


# --- lookup -------------------------------------------------------------------------------


def lookup(host: str, owner: str, name: str | None = None) -> dict:
    """Say which releases include an account (or one repository) and which requests cover it.

    Matching ignores the case of host, owner and name, as forges do. Owners are matched
    exactly: ``group`` does not match repositories of its subgroup ``group/sub``.

    Returns:
        ``{"host", "owner", "name", "releases": [...], "requests": [...],
        "requests_total"}``. Each release lists up to 500 repositories (``name``,
        ``files``) with ``repository_count``, ``files`` and ``truncated``. Each request
        gives only ``id``, ``kind``, ``state``, ``scope`` and ``created_at``; requests in
        every state are listed, withdrawn and rejected ones too, so their state shows.

    Raises:
        ApiError: 422 ``invalid_host``, ``invalid_owner`` or ``invalid_name``.
    """
    try:
        host = normalize_host(host)
        owner = check_owner(owner)
        name = check_name(name) if name is not None else None
    except ScopeError as error:
        raise ApiError(422, error.code, error.message, {"field": error.field}) from None
    owner_key, name_key = owner.lower(), name.lower() if name is not None else None
    requests, total = _covering_requests(host, owner_key, name_key)
    return {
        "host": host,
        "owner": owner,
        "name": name,
        "releases": _releases_including(host, owner_key, name_key),
        "requests": requests,
        "requests_total": total,
    }


def _entries(host: str, owner_key: str, name_key: str | None):
    where = (CatalogEntry.host == host) & (CatalogEntry.owner_key == owner_key)
    if name_key is not None:
        where &= CatalogEntry.name_key == name_key
    return where


def _releases_including(host: str, owner_key: str, name_key: str | None) -> list[dict]:
    where = _entries(host, owner_key, name_key)
    totals = (
        CatalogRelease.select(
            CatalogRelease,
            fn.COUNT(CatalogEntry.id).alias("repository_count"),
            fn.SUM(CatalogEntry.file_count).alias("total_files"),
        )
        .join(CatalogEntry)
        .where(where)
        .group_by(CatalogRelease)
        .order_by(CatalogRelease.id.desc())
    )
    releases = []
    for release in totals:
        names = (
            CatalogEntry.select(CatalogEntry.name, CatalogEntry.file_count)
            .where(where & (CatalogEntry.release == release.id))
            .order_by(CatalogEntry.name_key)
            .limit(MAX_NAMES_PER_RELEASE)
        )
        releases.append(
            {
                "name": release.name,
                "loaded_at": as_utc(release.loaded_at),
                "repositories": [{"name": e.name, "files": e.file_count} for e in names],
                "repository_count": release.repository_count,
                "files": int(release.total_files or 0),
                "truncated": release.repository_count > MAX_NAMES_PER_RELEASE,
            }
        )
    return releases


def _covering_requests(host: str, owner_key: str, name_key: str | None) -> tuple[list[dict], int]:
    """Requests of the account (any kind), or those covering one repository of it."""
    query = Request.select().where((Request.host == host) & (fn.LOWER(Request.owner) == owner_key))
    if name_key is not None:
        query = query.where(
            (Request.kind == "owner")
            | (Request.kind.in_(_FILE_KINDS) & (fn.LOWER(Request.name) == name_key))
        )
    total = query.count()
    rows = query.order_by(Request.id).limit(MAX_REQUESTS)
    return [_covering(r) for r in rows], total


def _covering(req: Request) -> dict:
    return {
        "id": req.id,
        "kind": req.kind,
        "state": req.state,
        "scope": _public_scope(req),
        "created_at": as_utc(req.created_at),
    }


def _public_scope(req: Request) -> str:
    """The scope in words, except a file's path: it points at a reported secret or PII."""
    if req.kind == "file":
        return f"a file in {req.host}/{req.owner}/{req.name}"
    return Scope(req.kind, req.host, req.owner, req.name).describe()
