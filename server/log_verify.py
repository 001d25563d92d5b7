"""``optout audit verify``: recompute the whole log from the database and check everything.

Every entry must sit at its index (no gap, no repeat), be canonical version-1 JSON, and hash
to its stored leaf; every stored subtree hash must be what the entries give; the head must
count them; every stored checkpoint must be signed by a trusted key and name the root the
entries give at its size. The first problem is reported with the first bad index.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from server.models import AuditQueue, LogCheckpoint, LogEntry, LogHead, LogNode
from shared import merkle
from shared.audit_entry import parse_entry
from shared.note import Checkpoint, NoteError, Verifier, open_note

CHUNK = 5000


@dataclass
class Report:
    size: int = 0
    checkpoints: int = 0
    queued: int = 0  # committed entries the sequencer has not moved into the log yet
    problems: list[str] = field(default_factory=list)
    first_bad_index: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def fail(self, message: str, index: int | None = None) -> None:
        self.problems.append(message)
        if index is not None and (self.first_bad_index is None or index < self.first_bad_index):
            self.first_bad_index = index


class _Frontier:
    """The compact range of the entries seen so far: the root at any size as we go."""

    def __init__(self) -> None:
        self.stack: list[tuple[int, bytes]] = []  # (level, hash), levels strictly decreasing

    def append(self, leaf: bytes, index: int, made: dict) -> None:
        level, value, at = 0, leaf, index
        made[(0, at)] = leaf
        while self.stack and self.stack[-1][0] == level:
            _, left = self.stack.pop()
            value = merkle.node_hash(left, value)
            level, at = level + 1, at >> 1
            made[(level, at)] = value
        self.stack.append((level, value))

    def root(self) -> bytes:
        if not self.stack:
            return merkle.EMPTY_ROOT
        value = self.stack[-1][1]
        for _, left in reversed(self.stack[:-1]):
            value = merkle.node_hash(left, value)
        return value


def verify_log(trusted: list[Verifier], origin: str,
               progress: Callable[[int], None] | None = None) -> Report:
    """Check the stored log against itself and the trusted keys; return what was found."""
    report = Report()
    cps = sorted(LogCheckpoint.select(), key=lambda c: (c.size, c.id))
    roots: dict[int, bytes] = {0: merkle.EMPTY_ROOT}
    wanted = {c.size for c in cps}
    frontier, expected = _Frontier(), 0
    while True:
        rows = list(LogEntry.select().where(LogEntry.index >= expected)
                    .order_by(LogEntry.index).limit(CHUNK))
        if not rows:
            break
        made: dict[tuple[int, int], bytes] = {}
        for row in rows:
            if row.index != expected:
                report.fail(f"entry {expected} is missing (next stored index is {row.index})",
                            expected)
                return _finish(report, expected, cps, roots, trusted, origin)
            data = bytes(row.entry)
            try:
                parse_entry(data)
            except ValueError as error:
                report.fail(f"entry {expected} is not a canonical entry: {error}", expected)
            leaf = merkle.leaf_hash(data)
            if bytes(row.leaf_hash) != leaf:
                report.fail(f"entry {expected}: stored leaf hash does not match its bytes",
                            expected)
            frontier.append(leaf, expected, made)
            expected += 1
            if expected in wanted:
                roots[expected] = frontier.root()
        _compare_nodes(made, rows[0].index, expected, report)
        if progress:
            progress(len(rows))
    return _finish(report, expected, cps, roots, trusted, origin)


def _compare_nodes(made: dict, lo: int, hi: int, report: Report) -> None:
    """Compare the subtree hashes completed by entries [lo, hi) with the stored ones."""
    stored = {}
    for level in range(hi.bit_length() + 1):
        # Node (level, j) is completed by leaf (j + 1) * 2**level - 1.
        first, last = ((lo + (1 << level)) >> level) - 1, hi >> level
        rows = LogNode.select().where((LogNode.level == level) & (LogNode.index >= first)
                                      & (LogNode.index < last))
        stored.update({(r.level, r.index): bytes(r.hash) for r in rows})
    bad = {key for key in set(made) | set(stored) if made.get(key) != stored.get(key)}
    # A subtree whose child already differs differs because of it: blame the lowest ones, or
    # one changed leaf would be reported at the first leaf of its biggest changed ancestor.
    causes = [(level, index) for level, index in bad
              if not {(level - 1, 2 * index), (level - 1, 2 * index + 1)} & bad]
    if causes:
        key = min(causes, key=lambda k: (k[1] << k[0], k[0]))
        first_leaf = key[1] << key[0]
        what = "missing" if key not in stored else "wrong"
        report.fail(f"stored hash of subtree {key} is {what} (leaves from {first_leaf})",
                    first_leaf)


def _finish(report: Report, size: int, cps: list, roots: dict, trusted: list[Verifier],
            origin: str) -> Report:
    report.size = size
    report.queued = AuditQueue.select().count()
    head = LogHead.get_or_none(LogHead.id == 1)
    if head is None or head.size != size:
        report.fail(f"the log head says {head.size if head else 'nothing'}, entries say {size}",
                    min(size, head.size) if head else size)
    top = size.bit_length()
    extra = LogNode.select().where(LogNode.level > top).count() + sum(
        LogNode.select().where((LogNode.level == level) & (LogNode.index >= size >> level)).count()
        for level in range(top + 1)
    )
    if extra:
        report.fail(f"{extra} stored subtree hashes lie beyond the entries", size)
    for cp in cps:
        try:
            text, _verified = open_note(cp.note.encode(), trusted)
            parsed = Checkpoint.parse(text)
        except NoteError as error:
            report.fail(f"checkpoint {cp.id} (size {cp.size}) does not verify: {error}")
            continue
        if parsed.origin != origin or parsed.size != cp.size:
            report.fail(f"checkpoint {cp.id} names {parsed.origin} size {parsed.size}")
        elif cp.size > size:
            report.fail(f"checkpoint {cp.id} covers {cp.size} entries; only {size} are left",
                        size)
        elif roots.get(cp.size) != parsed.root_hash or bytes(cp.root_hash) != parsed.root_hash:
            report.fail(f"checkpoint {cp.id} (size {cp.size}) names a root the entries do not "
                        "give", max(cp.size - 1, 0))
        else:
            report.checkpoints += 1
    return report
