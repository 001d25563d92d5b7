"""Tamper detection: any single change an operator makes to the stored audit log is caught.

Each case builds a log through the real service, publishes checkpoints, then makes one change
with plain database writes, as someone with database access but without the signing key
could. ``optout audit verify --json`` (the real CLI, in a subprocess) must exit 1 and name the
first bad index: the first position whose entry differs from the one the log committed to.
Changes that touch no entry (a checkpoint that no trusted key signed, a forged key) name no
index: ``first_bad_index`` is null and the problems say which checkpoint or key is bad.

The property test makes the same changes at random positions of random logs (SQLite only,
calling ``verify_log`` in-process for speed).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, note, settings
from hypothesis import strategies as st

from server.audit import record_action
from server.checkpoints import origin, publish, rotate_key, signer, trusted_verifiers
from server.db import bind, db
from server.log_verify import verify_log
from server.models import LogCheckpoint, LogEntry, LogHead, LogNode, RetiredKey, utcnow
from shared import merkle, states
from shared.audit_entry import build_entry
from shared.note import Checkpoint, NoteError, Signer, sign_note

OPTOUT = str(Path(sys.executable).parent / "optout")


# -- the operator's changes ---------------------------------------------------------------------
# Each makes one change in one transaction and returns the index verify must name (None: the
# change touches no entry).


def log_size() -> int:
    return LogEntry.select().count()


def _flipped(value: bytes, offset: int = 0) -> bytes:
    data = bytearray(value)
    data[offset % len(data)] ^= 0x01
    return bytes(data)


def _entry(index: int) -> tuple[bytes, bytes]:
    row = LogEntry.get(LogEntry.index == index)
    return bytes(row.entry), bytes(row.leaf_hash)


def _rewrite(index: int, entry: bytes, leaf: bytes) -> None:
    LogEntry.update(entry=entry, leaf_hash=leaf).where(LogEntry.index == index).execute()


def flip_byte(index: int, offset: int = 40) -> int:
    """Flip one bit of an entry's stored bytes (its stored leaf hash stays as it was)."""
    entry, leaf = _entry(index)
    with db.atomic():
        _rewrite(index, _flipped(entry, offset), leaf)
    return index


def delete_entry(index: int) -> int:
    with db.atomic():
        LogEntry.delete().where(LogEntry.index == index).execute()
    return index


def insert_entry(index: int) -> int:
    """Insert a well-formed entry with its true leaf hash at ``index``, shifting the rest."""
    size = log_size()
    forged = build_entry("request.approved", "user:1", "request:999", utcnow())
    with db.atomic():
        # The primary key is checked row by row, so move the tail out of the way first.
        away = size + 1
        LogEntry.update(index=LogEntry.index + away).where(LogEntry.index >= index).execute()
        LogEntry.update(index=LogEntry.index - away + 1).where(LogEntry.index >= away).execute()
        LogEntry.create(index=index, entry=forged, leaf_hash=merkle.leaf_hash(forged))
        LogHead.update(size=size + 1).execute()
    return index


def swap_entries(first: int, second: int) -> int:
    """Swap two entries, each with its own (true) leaf hash."""
    one, other = _entry(first), _entry(second)
    with db.atomic():
        _rewrite(first, *other)
        _rewrite(second, *one)
    return min(first, second)


def truncate(count: int) -> int:
    """Drop the last ``count`` entries and their subtree hashes, and shrink the head to match."""
    size = log_size()
    keep = size - count
    with db.atomic():
        LogEntry.delete().where(LogEntry.index >= keep).execute()
        for level in range(size.bit_length() + 1):
            # Node (level, j) is complete in a log of `keep` entries iff j < keep >> level.
            LogNode.delete().where(
                (LogNode.level == level) & (LogNode.index >= keep >> level)
            ).execute()
        LogHead.update(size=keep).execute()
    return keep


def change_node(level: int, index: int) -> int:
    """Change the stored hash of the complete subtree ``(level, index)``."""
    where = (LogNode.level == level) & (LogNode.index == index)
    with db.atomic():
        old = bytes(LogNode.get(where).hash)
        assert LogNode.update(hash=_flipped(old)).where(where).execute() == 1
    return index << level


def change_leaf_hash(index: int) -> int:
    entry, leaf = _entry(index)
    with db.atomic():
        _rewrite(index, entry, _flipped(leaf))
    return index


def _checkpoint(which: int) -> LogCheckpoint:
    """The ``which``-th stored checkpoint in publication order (-1: the latest)."""
    return list(LogCheckpoint.select().order_by(LogCheckpoint.id))[which]


def _stranger() -> Signer:
    """A key under the log's own name that the instance never trusted."""
    return Signer(origin(), Ed25519PrivateKey.generate())


def resign_checkpoint(which: int = -1) -> None:
    """Replace a checkpoint's note by the same text signed by another key."""
    cp = _checkpoint(which)
    text = Checkpoint(origin(), cp.size, bytes(cp.root_hash)).format()
    with db.atomic():
        cp.note = sign_note(text, [_stranger()]).decode()
        cp.save()


def change_checkpoint_root(which: int = -1) -> int:
    """Change the root stored beside a checkpoint's note."""
    cp = _checkpoint(which)
    with db.atomic():
        cp.root_hash = _flipped(bytes(cp.root_hash))
        cp.save()
    return max(cp.size - 1, 0)


def change_note_root(which: int = -1) -> None:
    """Change the root inside a checkpoint's signed note, keeping its signatures."""
    cp = _checkpoint(which)
    lines = cp.note.split("\n")
    lines[2] = base64.b64encode(_flipped(bytes(cp.root_hash))).decode()
    with db.atomic():
        cp.note = "\n".join(lines)
        cp.save()


def forge_retired_key() -> None:
    """Add a "retired" key of the intruder's, and a checkpoint of a forked log it signs."""
    forger, current = _stranger(), signer()
    size = log_size()
    text = (
        f"optout key rotation\n{origin()}\nold {forger.verifier}\nnew {current.verifier}\n"
        f"entry {size - 1}\n"
    )
    fork = _flipped(bytes(_checkpoint(-1).root_hash))
    with db.atomic():
        RetiredKey.create(
            verifier=str(forger.verifier),
            entry_index=size - 1,
            rotation_note=sign_note(text, [forger]).decode(),
        )
        LogCheckpoint.create(
            size=size,
            root_hash=fork,
            note=sign_note(Checkpoint(origin(), size, fork).format(), [forger]).decode(),
        )


def change_head(delta: int) -> int:
    size = log_size()
    with db.atomic():
        LogHead.update(size=LogHead.size + delta).execute()
    return min(size, size + delta)


# -- the deterministic table, through the real CLI on both backends -----------------------------

MIN_SIZE = 20

# name: (the change, then the first bad index verify must name), both given the log's size n.
CASES = {
    "flipped-byte": (lambda n: flip_byte(5), lambda n: 5),
    "deleted-middle": (lambda n: delete_entry(7), lambda n: 7),
    "deleted-last": (lambda n: delete_entry(n - 1), lambda n: n - 1),
    "inserted": (lambda n: insert_entry(4), lambda n: 4),
    "swapped": (lambda n: swap_entries(11, 3), lambda n: 3),
    "truncated-with-head": (lambda n: truncate(3), lambda n: n - 3),
    "leaf-node": (lambda n: change_node(0, 9), lambda n: 9),
    "inner-node": (lambda n: change_node(2, 3), lambda n: 12),  # the subtree of leaves 12-15
    "leaf-hash": (lambda n: change_leaf_hash(6), lambda n: 6),
    "checkpoint-resigned": (lambda n: resign_checkpoint(-1), lambda n: None),
    "checkpoint-root-column": (lambda n: change_checkpoint_root(-1), lambda n: n - 1),
    "checkpoint-root-in-note": (lambda n: change_note_root(-1), lambda n: None),
    "forged-retired-key": (lambda n: forge_retired_key(), lambda n: None),
    "head-grown": (lambda n: change_head(+2), lambda n: n),
    "head-shrunk": (lambda n: change_head(-2), lambda n: n - 2),
}


def build_log(factory) -> int:
    """Walk requests through their states, rotate the key, publish checkpoints; return size."""
    factory.user(states.REVIEWER)
    factory.request("repository", states.PUBLISHED)
    factory.request("file", states.NEEDS_INFO)
    factory.request("license", states.APPROVED)
    publish()
    rotate_key(actor="test")  # a genuine retired key; its checkpoint carries both signatures
    for k in range(8):
        with db.atomic():
            record_action("user:1", "test.noted", f"item:{k}", reason=f"reason {k}")
    publish()
    size = log_size()
    assert size >= MIN_SIZE and LogCheckpoint.select().count() == 3
    return size


def audit_verify(database_url: str, instance: Path) -> tuple[int, dict | None]:
    env = {**os.environ, "OPTOUT_INSTANCE": str(instance), "OPTOUT_DATABASE_URL": database_url}
    result = subprocess.run(
        [OPTOUT, "audit", "verify", "--json"], env=env, capture_output=True, text=True, timeout=60
    )
    assert "Traceback" not in result.stderr, result.stderr
    report = json.loads(result.stdout) if result.stdout.strip() else None
    return result.returncode, report


def test_an_untouched_log_verifies(app, factory, database_url, instance):
    size = build_log(factory)
    code, report = audit_verify(database_url, instance)
    assert (code, report) == (
        0,
        {"ok": True, "size": size, "checkpoints": 3, "queued": 0, "first_bad_index": None,
         "problems": []},
    )


@pytest.mark.parametrize(("change", "expected"), CASES.values(), ids=CASES.keys())
def test_a_single_change_is_caught_at_the_first_bad_index(
    app, factory, database_url, instance, change, expected
):
    size = build_log(factory)
    change(size)
    code, report = audit_verify(database_url, instance)
    assert code == 1, report
    assert report["ok"] is False and report["problems"]
    assert report["first_bad_index"] == expected(size), report["problems"]
    if expected(size) is None:  # no entry changed: the report must say which signature is bad
        assert any("checkpoint" in p or "rotation note" in p for p in report["problems"])


def test_a_forged_retired_key_is_not_trusted(app, factory):
    build_log(factory)
    forge_retired_key()
    with pytest.raises(NoteError, match="not signed by both keys"):
        trusted_verifiers(signer().verifier)


# -- the property: random logs, a random single change ------------------------------------------

SIMPLE = {"flip": flip_byte, "delete": delete_entry, "leaf_hash": change_leaf_hash}
WHOLE = {
    "resign": resign_checkpoint,
    "checkpoint_root": change_checkpoint_root,
    "note_root": change_note_root,
    "forged_key": forge_retired_key,
}
KINDS = [*SIMPLE, "insert", "swap", "truncate", "node", "head", *WHOLE]


@st.composite
def single_changes(draw):
    """Draw ``(size, kind, args)``: a log size and one change to make to it."""
    size = draw(st.integers(1, 60))
    kind = draw(st.sampled_from([k for k in KINDS if size > 1 or k != "swap"]))
    position = st.integers(0, size - 1)
    if kind == "flip":
        args = (draw(position), draw(st.integers(0, 300)))
    elif kind in SIMPLE:
        args = (draw(position),)
    elif kind == "insert":
        args = (draw(st.integers(0, size)),)  # at `size`: appended without its hashes
    elif kind == "swap":
        args = tuple(draw(st.lists(position, min_size=2, max_size=2, unique=True)))
    elif kind == "truncate":
        args = (draw(st.integers(1, size)),)
    elif kind == "node":
        level = draw(st.integers(0, size.bit_length() - 1))
        args = (level, draw(st.integers(0, (size >> level) - 1)))
    elif kind == "head":
        args = (draw(st.integers(-size, 3).filter(bool)),)
    else:
        args = ()
    return size, kind, args


OPERATIONS = {
    **SIMPLE,
    **WHOLE,
    "insert": insert_entry,
    "swap": swap_entries,
    "truncate": truncate,
    "node": change_node,
    "head": change_head,
}


@contextlib.contextmanager
def fresh_sqlite_log(directory: Path, size: int):
    """Bind the app's database to a new migrated SQLite file holding ``size`` entries."""
    from server.migrate import upgrade

    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        database = bind(f"sqlite:///{tmp}/log.db")
        try:
            upgrade(database)
            for k in range(size):
                with db.atomic():
                    record_action(
                        "user:1",
                        "test.noted",
                        f"item:{k}",
                        reason=f"reason {k}" if k % 3 == 0 else None,
                    )
            publish()
            yield
        finally:
            database.close()


def test_any_single_change_is_caught_at_the_first_changed_position(tmp_path, monkeypatch):
    from server import create_app
    from shared.keys import create_private_key

    monkeypatch.setenv("OPTOUT_INSTANCE", str(tmp_path / "instance"))
    create_private_key(tmp_path / "instance" / "signing.key")
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path}/unused.db",
            "RATELIMIT_ENABLED": False,
        }
    )

    @settings(max_examples=100, deadline=None)
    @given(single_changes())
    def check(change):
        size, kind, args = change
        note(f"{kind}{args} on a log of {size} entries")
        with fresh_sqlite_log(tmp_path, size):
            pinned = signer().verifier
            assert verify_log(trusted_verifiers(pinned), origin()).ok
            expected = OPERATIONS[kind](*args)
            if kind == "forged_key":
                with pytest.raises(NoteError):
                    trusted_verifiers(pinned)
                trusted = [pinned]
            else:
                trusted = trusted_verifiers(pinned)
            report = verify_log(trusted, origin())
            assert not report.ok
            assert report.first_bad_index == expected, report.problems

    with app.app_context():
        check()
