"""Verify a remote audit log from outside: the checkpoint, consistency with the last one this
client saw, and every entry since, before saving anything.

State (a JSON file) holds the pinned verifier keys, the last verified checkpoint note, and the
compact range (frontier) of the log at that size, so each run downloads only new entries and
recomputes the new root from them. The state is written (atomically) only when every check
passed: a failed run leaves the last good state in place.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import requests

from shared import merkle
from shared.audit_entry import parse_entry
from shared.note import Checkpoint, NoteError, Verifier, open_checkpoint, open_note

PAGE = 1000
TIMEOUT = (5.0, 30.0)


class LogVerificationError(Exception):
    """The remote log failed a check; ``code`` says which."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class State:
    origin: str
    verifiers: list[str]
    size: int = 0
    note: str | None = None
    frontier: list[tuple[int, bytes]] | None = None  # (level, hash), levels decreasing

    @classmethod
    def load(cls, path: Path) -> State | None:
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        frontier = [(level, base64.b64decode(h)) for level, h in data.get("frontier", [])]
        return cls(data["origin"], data["verifiers"], data["size"], data.get("note"), frontier)

    def save(self, path: Path) -> None:
        data = {"origin": self.origin, "verifiers": self.verifiers, "size": self.size,
                "note": self.note,
                "frontier": [[lvl, base64.b64encode(h).decode()] for lvl, h in self.frontier or []]}
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".")
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)


def _push(frontier: list[tuple[int, bytes]], leaf: bytes) -> None:
    level, value = 0, leaf
    while frontier and frontier[-1][0] == level:
        _, left = frontier.pop()
        value, level = merkle.node_hash(left, value), level + 1
    frontier.append((level, value))


def _root(frontier: list[tuple[int, bytes]]) -> bytes:
    if not frontier:
        return merkle.EMPTY_ROOT
    value = frontier[-1][1]
    for _, left in reversed(frontier[:-1]):
        value = merkle.node_hash(left, value)
    return value


class LogClient:
    def __init__(self, base_url: str, session: requests.Session | None = None):
        self.api = base_url.rstrip("/") + "/api/v1/audit"
        self.session = session or requests.Session()

    def _get(self, path: str, **params) -> dict:
        try:
            resp = self.session.get(self.api + path, params=params, timeout=TIMEOUT)
        except requests.RequestException as error:
            raise LogVerificationError("unreachable", f"cannot reach the log: {error}") from None
        if resp.status_code != 200:
            raise LogVerificationError("http_error", f"{path} answered {resp.status_code}")
        return resp.json()

    def keys(self) -> dict:
        return self._get("/keys")

    def checkpoint(self) -> bytes:
        return self._get("/checkpoint")["note"].encode()

    def consistency(self, old: int, new: int) -> list[bytes]:
        proof = self._get("/proof/consistency", old=old, new=new)["proof"]
        return [base64.b64decode(h) for h in proof]

    def entries(self, start: int, end: int):
        while start < end:
            page = self._get("/entries", start=start, end=min(end, start + PAGE))["entries"]
            if not page:
                raise LogVerificationError("entries_missing", f"no entries from {start}")
            for item in page:
                if item["index"] != start:
                    raise LogVerificationError(
                        "entries_out_of_order", f"asked for entry {start}, got {item['index']}")
                yield start, item["entry"].encode("utf-8")
                start += 1


def _follow_rotations(client: LogClient, pinned: list[Verifier]) -> list[Verifier]:
    """Trust a new key only through rotation notes signed by a key we already trust."""
    trusted = list(pinned)
    for row in client.keys().get("retired", []):
        old = Verifier(row["verifier"])
        if old not in trusted:
            continue
        text, verified = open_note(row["rotation_note"].encode(), trusted + _new_keys(row))
        new = [v for v in verified if v != old and str(v) in text]
        if old in verified and new:
            trusted.extend(v for v in new if v not in trusted)
    return trusted


def _new_keys(row: dict) -> list[Verifier]:
    for line in row["rotation_note"].splitlines():
        if line.startswith("new "):
            return [Verifier(line[4:])]
    return []


def verify_remote(base_url: str, state_path: Path, trust: list[str] | None = None,
                  origin: str | None = None) -> State:
    """Verify the remote log against the saved state and return the new state (saved).

    Raises:
        LogVerificationError: with code ``bad_signature``, ``rollback``, ``fork``,
            ``inconsistent``, ``bad_entry``, ``root_mismatch``, ``untrusted`` and others.
    """
    client = LogClient(base_url)
    state = State.load(state_path)
    if state is None:
        if not trust:
            raise LogVerificationError("untrusted", "first run: pin the log's key with --trust")
        pinned = [Verifier(v) for v in trust]
        state = State(origin or pinned[0].name, [str(v) for v in pinned], 0, None, [])
    pinned = [Verifier(v) for v in state.verifiers]
    note = client.checkpoint()
    try:
        checkpoint = open_checkpoint(note, pinned, state.origin)
    except NoteError:
        pinned = _follow_rotations(client, pinned)
        try:
            checkpoint = open_checkpoint(note, pinned, state.origin)
        except NoteError as error:
            raise LogVerificationError("bad_signature", f"checkpoint: {error}") from None
    _check_consistency(client, state, checkpoint)
    frontier = list(state.frontier or [])
    for index, data in client.entries(state.size, checkpoint.size):
        try:
            parse_entry(data)
        except ValueError as error:
            raise LogVerificationError("bad_entry", f"entry {index}: {error}") from None
        _push(frontier, merkle.leaf_hash(data))
    if _root(frontier) != checkpoint.root_hash:
        raise LogVerificationError(
            "root_mismatch", "the entries do not give the checkpoint's root hash")
    new_state = State(state.origin, [str(v) for v in pinned], checkpoint.size,
                      note.decode(), frontier)
    new_state.save(state_path)
    return new_state


def _check_consistency(client: LogClient, state: State, checkpoint: Checkpoint) -> None:
    if state.note is None:
        return
    old = Checkpoint.parse(state.note[: state.note.index("\n\n") + 1])
    if checkpoint.size < old.size:
        raise LogVerificationError(
            "rollback", f"the log shrank from {old.size} to {checkpoint.size} entries")
    if checkpoint.size == old.size and checkpoint.root_hash != old.root_hash:
        raise LogVerificationError("fork", f"two different roots for size {old.size}")
    try:
        merkle.verify_consistency(old.size, checkpoint.size, old.root_hash,
                                  checkpoint.root_hash, client.consistency(old.size,
                                                                           checkpoint.size))
    except merkle.ProofError as error:
        raise LogVerificationError("inconsistent", f"consistency proof: {error}") from None
