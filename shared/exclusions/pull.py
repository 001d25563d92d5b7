"""Pull the exclusion list from a server and keep the last verified copy: fail closed.

HTTP shapes expected from the server (to be implemented there)::

    GET <server>/api/v1/exclusions/latest/manifest  -> 200 text/plain; the manifest note bytes;
                                                        ETag; If-None-Match -> 304
    GET <server>/api/v1/exclusions/<version>/manifest -> 200 text/plain note, 404 if unknown
    GET <server>/api/v1/exclusions/<version>/body     -> 200 application/x-ndjson body bytes
                                                        (exactly manifest.size bytes), 404

Verification follows TUF's client rules with a single manifest: one fixed ``now`` per run;
manifest downloads capped at ``MAX_MANIFEST`` bytes, the body at ``manifest.size`` (itself
capped at ``max_body``); signature against the pinned keys; version monotonic against the
saved state (lower -> rollback, same version with other bytes -> fork, same bytes -> up to
date); the ``prev`` chain from the saved version, fetching skipped manifests one by one (at
most ``max_chain``); expiry against ``now`` and, optionally, ``issued`` no older than
``max_age_days``; body size and SHA-256; body parsed strictly. Only then is anything written.
The first pull (no state) trusts whichever correctly signed version it gets.

The latest manifest is asked for with ``If-None-Match`` and the ETag the server gave with the
last verified one. A 304 means "up to date": the kept list is then checked again as if it had
just been downloaded (signature against today's pinned keys, body size and hash, expiry and
``max_age_days`` against the run's ``now``), so a server that answers 304 forever cannot keep
a pipeline on an expired list.

State directory layout (the only thing written)::

    <state>/lists/<version>/manifest.note   verified manifest note, byte for byte
    <state>/lists/<version>/body.jsonl      verified body
    <state>/state.json                      {"etag": ..., "manifest_sha256": ..., "version": N}

Files are written to temporary names, fsynced and renamed; ``state.json`` is replaced last, so
it always points at a complete verified list. The previous version's directory is kept (the
last good copy); older ones are pruned. ``load_verified`` reads and re-checks the current list
for ``apply``.

Exit codes: PRODUCT.md reserves 0 (success), 1 (a check failed) and 2 (usage). Every pull
failure is a check failure, and scripts need to tell them apart, so each has its own code from
3 up (``EXIT_CODES``); 1 remains for any other failure of the check. "Up to date" is 0.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from shared.atomic import write_atomic
from shared.exclusions.format import Matcher, RuleError
from shared.exclusions.manifest import (
    MalformedManifestError,
    Manifest,
    ManifestSignatureError,
    note_hash,
    open_manifest,
)

MAX_MANIFEST = 64 * 1024
MAX_BODY = 1024**3  # absolute cap on a body, whatever the manifest says
MAX_CHAIN = 256
TIMEOUT = (5.0, 30.0)  # connect, read (seconds)
RETRIES = 3
BACKOFF = 0.5  # seconds, doubled after each failed attempt
API = "/api/v1/exclusions"


class PullError(Exception):
    """Pulling failed: no new list was accepted, the last good one is untouched."""

    code = "failed"
    exit_code = 1


class NetworkError(PullError):
    code, exit_code = "network", 3


class BadSignatureError(PullError):
    code, exit_code = "bad_signature", 4


class RollbackError(PullError):
    code, exit_code = "rollback", 5


class ForkError(PullError):
    code, exit_code = "fork", 6


class ExpiredError(PullError):
    code, exit_code = "expired", 7


class HashMismatchError(PullError):
    code, exit_code = "hash_mismatch", 8


class OversizeError(PullError):
    code, exit_code = "oversize", 9


class MalformedError(PullError):
    code, exit_code = "malformed", 10


class ChainError(PullError):
    """The ``prev`` chain from the saved version to the new one is broken."""

    code, exit_code = "chain", 11


class StateError(PullError):
    """The local state directory is unreadable or inconsistent."""

    code, exit_code = "state", 12


ERRORS: tuple[type[PullError], ...] = (
    PullError,
    NetworkError,
    BadSignatureError,
    RollbackError,
    ForkError,
    ExpiredError,
    HashMismatchError,
    OversizeError,
    MalformedError,
    ChainError,
    StateError,
)
EXIT_CODES: dict[str, int] = {"ok": 0, "usage": 2} | {e.code: e.exit_code for e in ERRORS}


@dataclass(frozen=True)
class PullResult:
    manifest: Manifest
    note: bytes
    body_path: Path
    manifest_path: Path
    updated: bool  # False: the saved list was already the latest
    previous_version: int | None
    now: datetime
    not_modified: bool = False  # the server answered 304 to the saved list's ETag


@dataclass(frozen=True)
class SavedState:
    version: int
    note: bytes
    manifest_path: Path
    body_path: Path
    etag: str | None = None  # what the server sent with this manifest, for If-None-Match


# -- HTTP ----------------------------------------------------------------------------------------


class _Fetcher:
    def __init__(
        self,
        server_url: str,
        session: requests.Session | None,
        retries: int,
        backoff: float,
        timeout: tuple[float, float],
        sleep: Callable[[float], None],
    ) -> None:
        self.base = server_url.rstrip("/") + API
        self.session = session or requests.Session()
        self.retries = max(1, retries)
        self.backoff = backoff
        self.timeout = timeout
        self.sleep = sleep

    def get(self, path: str, limit: int, what: str) -> bytes:
        data, _ = self.get_if_changed(path, limit, what)
        assert data is not None
        return data

    def get_if_changed(
        self, path: str, limit: int, what: str, etag: str | None = None
    ) -> tuple[bytes | None, str | None]:
        """Return (body, ETag); the body is None when the server answers 304 to ``etag``."""
        url = f"{self.base}/{path}"
        headers = {"If-None-Match": etag} if etag else {}
        last = ""
        for attempt in range(self.retries):
            if attempt:
                self.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                with self.session.get(
                    url, timeout=self.timeout, stream=True, headers=headers
                ) as response:
                    if response.status_code >= 500:
                        last = f"{what}: server answered {response.status_code}"
                        continue
                    if response.status_code == 304 and etag:
                        return None, etag
                    if response.status_code != 200:
                        raise NetworkError(f"{what}: {url} answered {response.status_code}")
                    return self._read(response, limit, what), _etag(response)
            except (requests.ConnectionError, requests.Timeout) as error:
                last = f"{what}: {type(error).__name__}: {error}"
            except requests.RequestException as error:  # chunked encoding, content decoding
                last = f"{what}: {type(error).__name__}: {error}"
        raise NetworkError(f"{last} (after {self.retries} attempts)")

    @staticmethod
    def _read(response: requests.Response, limit: int, what: str) -> bytes:
        length = response.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > limit:
            raise OversizeError(f"{what} is {length} bytes, more than the limit of {limit}")
        data = bytearray()
        for chunk in response.iter_content(65536):
            data += chunk
            if len(data) > limit:
                raise OversizeError(f"{what} is more than the limit of {limit} bytes")
        return bytes(data)


def _etag(response: requests.Response) -> str | None:
    """The response's ETag when it is a plausible one (kept to send back, never trusted)."""
    value = response.headers.get("ETag", "")
    if 2 < len(value) <= 256 and value.isascii() and value.isprintable() and '"' in value:
        return value
    return None


# -- state ---------------------------------------------------------------------------------------


def load_state(state_dir: str | os.PathLike) -> SavedState | None:
    """Read the saved state; None when nothing was pulled yet. Checks the manifest's hash."""
    root = Path(state_dir)
    pointer = root / "state.json"
    if not pointer.exists():
        return None
    try:
        state = json.loads(pointer.read_text("utf-8"))
        version = state["version"]
        expected = state["manifest_sha256"]
        etag = state.get("etag")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ValueError("bad version")
        if etag is not None and not isinstance(etag, str):
            raise ValueError("bad etag")
        folder = root / "lists" / str(version)
        note = (folder / "manifest.note").read_bytes()
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise StateError(f"state in {root} is unreadable: {error}") from None
    if note_hash(note) != expected:
        raise StateError(f"saved manifest in {folder} does not match state.json")
    return SavedState(version, note, folder / "manifest.note", folder / "body.jsonl", etag)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_state(root: Path, manifest: Manifest, note: bytes, etag: str | None) -> None:
    state = {"etag": etag, "manifest_sha256": note_hash(note), "version": manifest.version}
    write_atomic(root / "state.json", json.dumps(state, sort_keys=True).encode() + b"\n")
    _fsync_dir(root)


def _save(
    root: Path, manifest: Manifest, note: bytes, body: bytes, keep: int | None,
    etag: str | None = None,
) -> Path:
    lists = root / "lists"
    lists.mkdir(parents=True, exist_ok=True)
    folder = lists / str(manifest.version)
    staging = Path(tempfile.mkdtemp(prefix=f".{manifest.version}.", dir=lists))
    try:
        write_atomic(staging / "body.jsonl", body)
        write_atomic(staging / "manifest.note", note)
        _fsync_dir(staging)
        if folder.exists():  # a leftover of an interrupted run, never pointed at by state
            shutil.rmtree(folder)
        os.replace(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _fsync_dir(lists)
    _write_state(root, manifest, note, etag)
    for child in lists.iterdir():
        if child.name.isdigit() and int(child.name) not in (manifest.version, keep):
            shutil.rmtree(child, ignore_errors=True)
    return folder


# -- pull ----------------------------------------------------------------------------------------


def _open(note: bytes, verifiers: list, what: str) -> Manifest:
    try:
        return open_manifest(note, verifiers)
    except ManifestSignatureError as error:
        raise BadSignatureError(f"{what}: {error}") from None
    except MalformedManifestError as error:
        raise MalformedError(f"{what}: {error}") from None


def _check_chain(
    fetcher: _Fetcher, verifiers: list, saved: SavedState, new: Manifest, max_chain: int
) -> None:
    gap = new.version - saved.version - 1
    if gap > max_chain:
        raise ChainError(
            f"{gap} versions were skipped since {saved.version}, more than {max_chain} to check"
        )
    previous = saved.note
    for version in range(saved.version + 1, new.version):
        note = fetcher.get(f"{version}/manifest", MAX_MANIFEST, f"manifest {version}")
        manifest = _open(note, verifiers, f"manifest {version}")
        if manifest.version != version:
            raise ChainError(f"asked for manifest {version}, got version {manifest.version}")
        if manifest.prev != note_hash(previous):
            raise ChainError(f"manifest {version} does not chain to version {version - 1}")
        previous = note
    if new.prev != note_hash(previous):
        raise ChainError(f"manifest {new.version}'s prev does not match version {new.version - 1}")


def pull(
    server_url: str,
    trust: Iterable[str],
    state_dir: str | os.PathLike,
    max_age_days: float | None = None,
    now: datetime | None = None,
    session: requests.Session | None = None,
    *,
    retries: int = RETRIES,
    backoff: float = BACKOFF,
    timeout: tuple[float, float] = TIMEOUT,
    max_body: int = MAX_BODY,
    max_chain: int = MAX_CHAIN,
    sleep: Callable[[float], None] = time.sleep,
) -> PullResult:
    """Fetch, verify and save the latest exclusion list; raise a ``PullError`` otherwise."""
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    verifiers = list(trust)
    if not verifiers:
        raise BadSignatureError("no trusted keys: refusing to accept any list")
    root = Path(state_dir)
    saved = load_state(root)
    fetcher = _Fetcher(server_url, session, retries, backoff, timeout, sleep)

    fetched, etag = fetcher.get_if_changed(
        "latest/manifest", MAX_MANIFEST, "latest manifest", saved.etag if saved else None)
    not_modified = fetched is None
    if not_modified:  # 304: the saved manifest is the latest; check it as if just fetched
        assert saved is not None
        note = saved.note
        manifest = _open(note, verifiers, "saved manifest")
        _check_saved_body(saved, manifest)
    else:
        assert fetched is not None
        note = fetched
        manifest = _open(note, verifiers, "latest manifest")

    up_to_date = not_modified
    if saved is not None and not not_modified:
        if manifest.version < saved.version:
            raise RollbackError(
                f"server offers version {manifest.version}, older than saved {saved.version}"
            )
        if manifest.version == saved.version:
            if note != saved.note:
                raise ForkError(f"server offers a different manifest for version {saved.version}")
            up_to_date = True
        else:
            _check_chain(fetcher, verifiers, saved, manifest, max_chain)

    label = f"{'saved list (not modified)' if not_modified else 'manifest'} {manifest.version}"
    if manifest.expires <= now:
        raise ExpiredError(f"{label} expired at {manifest.expires:%FT%TZ}")
    if max_age_days is not None and now - manifest.issued > timedelta(days=max_age_days):
        raise ExpiredError(
            f"{label} was issued at {manifest.issued:%FT%TZ}, more than {max_age_days} days ago"
        )

    if up_to_date:
        assert saved is not None
        if etag != saved.etag:  # remember the ETag for the next run's If-None-Match
            _write_state(root, manifest, note, etag)
        return PullResult(manifest, note, saved.body_path, saved.manifest_path, False,
                          saved.version, now, not_modified)

    if manifest.size > max_body:
        raise OversizeError(f"body of {manifest.size} bytes is over the cap of {max_body}")
    body = fetcher.get(f"{manifest.version}/body", manifest.size, f"body {manifest.version}")
    if len(body) != manifest.size:
        raise HashMismatchError(
            f"body {manifest.version} is {len(body)} bytes, manifest says {manifest.size}"
        )
    if hashlib.sha256(body).hexdigest() != manifest.sha256:
        raise HashMismatchError(f"body {manifest.version} does not match the manifest's sha256")
    try:
        Matcher(body, manifest.salt)
    except RuleError as error:
        raise MalformedError(f"body {manifest.version}: {error}") from None

    folder = _save(root, manifest, note, body, saved.version if saved else None, etag)
    return PullResult(
        manifest,
        note,
        folder / "body.jsonl",
        folder / "manifest.note",
        True,
        saved.version if saved else None,
        now,
    )


def _check_saved_body(saved: SavedState, manifest: Manifest) -> bytes:
    """Return the saved body when its size and SHA-256 are the manifest's."""
    try:
        body = saved.body_path.read_bytes()
    except OSError as error:
        raise StateError(f"cannot read {saved.body_path}: {error.strerror}") from None
    if len(body) != manifest.size or hashlib.sha256(body).hexdigest() != manifest.sha256:
        raise HashMismatchError(f"saved body {saved.body_path} does not match its manifest")
    return body


def load_verified(
    state_dir: str | os.PathLike,
    trust: Iterable[str],
    now: datetime | None = None,
    max_age_days: float | None = None,
) -> tuple[Manifest, Matcher]:
    """Load the saved list for use, re-verifying it; fail closed when there is none."""
    now = now or datetime.now(UTC)
    saved = load_state(state_dir)
    if saved is None:
        raise StateError(f"no verified exclusion list in {state_dir}: run pull first")
    manifest = _open(saved.note, list(trust), "saved manifest")
    body = _check_saved_body(saved, manifest)
    if manifest.expires <= now:
        raise ExpiredError(f"saved list {manifest.version} expired at {manifest.expires:%FT%TZ}")
    if max_age_days is not None and now - manifest.issued > timedelta(days=max_age_days):
        raise ExpiredError(f"saved list {manifest.version} is older than {max_age_days} days")
    try:
        return manifest, Matcher(body, manifest.salt)
    except RuleError as error:
        raise MalformedError(f"saved body: {error}") from None
