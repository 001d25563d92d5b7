"""The audit log's storage: appends, roots and proofs from stored complete-subtree hashes.

An entry is always written in the transaction of the change it records. How it reaches the
Merkle log depends on whether a sequencer runs in this process (``server.sequencer``, started by
``optout serve`` in every worker):

- with a sequencer, ``append`` writes the entry's canonical bytes to the ``audit_queue`` table
  and takes no global lock; the sequencer moves queued entries into the log in batches, one
  head lock per batch, a fraction of a second later (like a transparency log's sequencer);
- without one (the CLI, tests, an embedded app), ``append`` sequences at once: it locks the log's
  head row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite write transactions already hold the
  database's write lock), folds whatever is still queued, then the new entry, and returns its
  index. So does ``append(..., sequenced=True)``, for callers that need the index.

Either way indexes never repeat or skip, and an entry is in the log only if its change
committed. Any root or proof reads O(log n) stored nodes, fetched in one query.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
import os

from server import prepared
from server.db import db, is_postgres
from server.errors import ApiError
from server.models import AuditNote, AuditQueue, LogEntry, LogHead, LogNode, utcnow
from shared import merkle
from shared.audit_entry import build_entry, note_digest

MAX_RANGE = 1000
SEQUENCE_BATCH = 1000

# Set by server.sequencer while a sequencer thread runs in this process.
_queueing = False


class LogOutsideTransaction(RuntimeError):
    """An entry was appended outside the transaction of the change it records."""


def set_queueing(enabled: bool) -> None:
    """Queue appends for a sequencer (True) or sequence each at once (False)."""
    global _queueing
    _queueing = enabled


def _head() -> LogHead:
    query = LogHead.select().where(LogHead.id == 1)
    if is_postgres():
        query = query.for_update()
    head = query.first()
    if head is None:  # made by the migration; recreate if an operator removed it
        head = LogHead.create(id=1, size=0)
    return head


def append(action: str, actor: str, subject: str, reason: str | None = None,
           details: dict | None = None, time: dt.datetime | None = None,
           sequenced: bool = False) -> int | None:
    """Append one entry (and its deletable reason note).

    Return its index, or None when it was queued for the sequencer (see the module's text).
    """
    if not db.in_transaction():
        raise LogOutsideTransaction(f"{action} on {subject} must be logged inside db.atomic()")
    note_id = digest = None
    if reason is not None:
        salt = os.urandom(16)
        note_id = AuditNote.insert(salt=salt, text=reason).execute()
        digest = note_digest(salt, reason)
    data = build_entry(action, actor, subject, time or utcnow(), details,
                       (note_id, digest) if note_id is not None else None)
    if _queueing and not sequenced:
        prepared.insert(AuditQueue(entry=data, note_id=note_id))
        return None
    head = _head()
    size = _fold_queue(head.size)
    return _fold(size, [(data, note_id)])


def sequence(limit: int = SEQUENCE_BATCH) -> int:
    """Move up to ``limit`` queued entries into the log; return how many moved.

    Call inside a transaction: it takes the append lock until the transaction ends.
    """
    if not db.in_transaction():
        raise LogOutsideTransaction("sequencing must run inside db.atomic()")
    head = _head()
    return _fold_queue(head.size, limit) - head.size


def _fold_queue(size: int, limit: int | None = None) -> int:
    """Move queued entries (oldest first) into the log at ``size``; return the new size."""
    while True:
        batch = min(limit, SEQUENCE_BATCH) if limit is not None else SEQUENCE_BATCH
        if batch <= 0:
            return size
        rows = list(AuditQueue.select(AuditQueue.id, AuditQueue.entry, AuditQueue.note_id)
                    .order_by(AuditQueue.id).limit(batch).tuples())
        if not rows:
            return size
        _fold(size, [(bytes(entry), note_id) for _, entry, note_id in rows])
        AuditQueue.delete().where(AuditQueue.id.in_([row[0] for row in rows])).execute()
        size += len(rows)
        if limit is not None:
            limit -= len(rows)
        if len(rows) < batch:
            return size


def _fold(size: int, items: list[tuple[bytes, int | None]]) -> int:
    """Write ``items`` as entries ``size, size + 1, …`` with their nodes; return the last index.

    The caller holds the append lock and ``size`` is the head's size.
    """
    made: dict[tuple[int, int], bytes] = {}
    reader = NodeReader(set(merkle.frontier(size)))  # the only stored nodes a batch reads

    def get(level: int, index: int) -> bytes:
        return made[(level, index)] if (level, index) in made else reader.get(level, index)

    now = utcnow()
    entries, nodes = [], []
    for offset, (data, note_id) in enumerate(items):
        index = size + offset
        leaf = merkle.leaf_hash(data)
        for level, at, value in merkle.nodes_after_append(index, leaf, get):
            made[(level, at)] = value
            nodes.append({"level": level, "index": at, "hash": value})
        entries.append({"index": index, "entry": data, "leaf_hash": leaf, "created_at": now})
        if note_id is not None:
            AuditNote.update(entry_index=index).where(AuditNote.id == note_id).execute()
    for chunk in range(0, len(entries), 200):
        LogEntry.insert_many(entries[chunk:chunk + 200]).execute()
    for chunk in range(0, len(nodes), 300):
        LogNode.insert_many(nodes[chunk:chunk + 300]).execute()
    last = size + len(items) - 1
    LogHead.update(size=last + 1).where(LogHead.id == 1).execute()
    return last


class NodeReader:
    """Read stored nodes, prefetching the ones a computation will need in one query."""

    def __init__(self, wanted: set[tuple[int, int]] | None = None):
        self.cache: dict[tuple[int, int], bytes] = {}
        if wanted:
            self.prefetch(wanted)

    def prefetch(self, wanted: set[tuple[int, int]]) -> None:
        keys = [k for k in wanted if k not in self.cache]
        for chunk in range(0, len(keys), 200):
            by_level: dict[int, list[int]] = {}
            for level, index in keys[chunk:chunk + 200]:
                by_level.setdefault(level, []).append(index)
            # One "level = ? AND index IN (...)" per level: SQLite answers the row-value form
            # "(level, index) IN (...)" by scanning the whole table, O(n) per proof.
            where = functools.reduce(operator.or_, [
                (LogNode.level == level) & LogNode.index.in_(indexes)
                for level, indexes in by_level.items()])
            for row in LogNode.select().where(where):
                self.cache[(row.level, row.index)] = bytes(row.hash)

    def get(self, level: int, index: int) -> bytes:
        key = (level, index)
        if key not in self.cache:
            row = LogNode.get_or_none((LogNode.level == level) & (LogNode.index == index))
            if row is None:
                raise ApiError(500, "log_corrupt", f"the log lacks node ({level}, {index})")
            self.cache[key] = bytes(row.hash)
        return self.cache[key]


def locked_size() -> int:
    """Sequence what is queued and return the log's size, holding the append lock until the
    transaction ends (checkpoints are signed over everything committed before them)."""
    return _fold_queue(_head().size)


def size() -> int:
    head = LogHead.get_or_none(LogHead.id == 1)
    return head.size if head else 0


def _check_size(tree_size: int) -> int:
    current = size()
    if not 0 <= tree_size <= current:
        raise ApiError(422, "invalid_tree_size", f"the tree size must be 0 to {current}",
                       {"size": current})
    return current


def root_at(tree_size: int) -> bytes:
    """Return the root of the first ``tree_size`` entries."""
    if tree_size == 0:
        return merkle.EMPTY_ROOT
    reader = NodeReader(set(merkle.frontier(tree_size)))
    return merkle.root_from_nodes(tree_size, reader.get)


def inclusion_proof(index: int, tree_size: int) -> list[bytes]:
    _check_size(tree_size)
    if not 0 <= index < tree_size:
        raise ApiError(422, "invalid_index", f"the index must be 0 to {tree_size - 1}",
                       {"size": tree_size})
    reader = NodeReader(merkle.proof_nodes(merkle.inclusion_ranges(index, tree_size)))
    return merkle.inclusion_proof(index, tree_size, reader.get)


def consistency_proof(old_size: int, new_size: int) -> list[bytes]:
    _check_size(new_size)
    if not 0 <= old_size <= new_size:
        raise ApiError(422, "invalid_tree_size", "the old size must be 0 to the new size")
    reader = NodeReader(merkle.proof_nodes(merkle.consistency_ranges(old_size, new_size)))
    return merkle.consistency_proof(old_size, new_size, reader.get)


def index_of_leaf(leaf: bytes, tree_size: int) -> int:
    """Return the first index below ``tree_size`` whose leaf hash is ``leaf``."""
    row = (LogEntry.select(LogEntry.index)
           .where((LogEntry.leaf_hash == leaf) & (LogEntry.index < tree_size))
           .order_by(LogEntry.index).first())
    if row is None:
        raise ApiError(404, "not_found", "no entry with this leaf hash in a tree of that size")
    return row.index


def entries(start: int, end: int) -> list[LogEntry]:
    """Return entries ``[start, end)`` (at most MAX_RANGE of them)."""
    current = size()
    if not 0 <= start < end or end - start > MAX_RANGE or start >= current:
        raise ApiError(422, "invalid_range",
                       f"ask for 1 to {MAX_RANGE} entries from 0 to {current - 1}",
                       {"size": current})
    return list(LogEntry.select().where((LogEntry.index >= start) & (LogEntry.index < end))
                .order_by(LogEntry.index))


def entry_leaf(index: int) -> bytes:
    row = LogEntry.get_or_none(LogEntry.index == index)
    if row is None:
        raise ApiError(404, "not_found", f"there is no entry {index}")
    return bytes(row.leaf_hash)
