"""The audit log's storage: appends, roots and proofs from stored complete-subtree hashes.

Appends happen inside the caller's transaction and lock the log's head row (``SELECT … FOR
UPDATE`` on PostgreSQL; SQLite transactions here begin IMMEDIATE and already hold the write
lock), so concurrent workers never repeat or skip an index. Any root or proof reads
O(log n) stored nodes, fetched in one query.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
import os

from server.db import db, is_postgres
from server.errors import ApiError
from server.models import AuditNote, LogEntry, LogHead, LogNode, utcnow
from shared import merkle
from shared.audit_entry import build_entry, note_digest

MAX_RANGE = 1000


class LogOutsideTransaction(RuntimeError):
    """An entry was appended outside the transaction of the change it records."""


def _head() -> LogHead:
    query = LogHead.select().where(LogHead.id == 1)
    if is_postgres():
        query = query.for_update()
    head = query.first()
    if head is None:  # made by the migration; recreate if an operator removed it
        head = LogHead.create(id=1, size=0)
    return head


def append(action: str, actor: str, subject: str, reason: str | None = None,
           details: dict | None = None, time: dt.datetime | None = None) -> int:
    """Append one entry (and its deletable reason note) and return its index."""
    if not db.in_transaction():
        raise LogOutsideTransaction(f"{action} on {subject} must be logged inside db.atomic()")
    head = _head()
    note = None
    if reason is not None:
        salt = os.urandom(16)
        row = AuditNote.create(salt=salt, text=reason)
        note = (row.id, note_digest(salt, reason))
    data = build_entry(action, actor, subject, time or utcnow(), details, note)
    index = head.size
    leaf = merkle.leaf_hash(data)
    reader = NodeReader(set(merkle.frontier(index)))  # the only nodes an append reads
    nodes = merkle.nodes_after_append(index, leaf, reader.get)
    LogEntry.create(index=index, entry=data, leaf_hash=leaf, created_at=utcnow())
    rows = [{"level": level, "index": at, "hash": value} for level, at, value in nodes]
    LogNode.insert_many(rows).execute()
    LogHead.update(size=index + 1).where(LogHead.id == 1).execute()
    if note is not None:
        AuditNote.update(entry_index=index).where(AuditNote.id == note[0]).execute()
    return index


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
    """Return the log's size, holding the append lock until the transaction ends."""
    return _head().size


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
