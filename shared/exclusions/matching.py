"""Match record batches against an exclusion list without a Python call per row or per rule.

``BatchMatcher.rule_ids`` gives, for each row, the index of the broadest rule that covers it
(owner, repository, file, content, as ``Matcher.excluded`` does) or -1. A row whose host,
owner or name is null matches no owner/repository/file rule; host, owner and name are
lower-cased like Python's ``str.lower``, paths are compared as they are.

Plain lists: each key (host+owner, host+owner+name, +path, blob SHA-1) is made of 64-bit
hashes computed in numpy, 8 bytes at a time straight from the Arrow buffers (the host by its
index among the rules' hosts), and looked up in an open-addressing table built once from the
rules (vectorised linear probing, load <= 1/4, a cache-sized bitmap in front). The hash only
*proposes* a rule: every hit is confirmed by comparing the row's strings with the rule's in
Arrow, and when several rules share a key each is proposed in turn, so the result is exact
whatever the hash does; equal strings always hash equal, so nothing is missed. The cost is
O(rows) per batch, independent of the number of rules; ``pyarrow.compute.is_in`` would
rebuild its hash table of a million rules on every batch (~0.3 s).

Privacy mode: rules are salted SHA-256 digests, so each *distinct* candidate in a batch is
hashed with the salt in Python (hashlib has no vectorised form) and looked up in a dict.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shared.exclusions.format import Matcher, content_id

SEP = "\x00"
KIND_ORDER = ("owner", "repository", "file", "content")
_SWH = "swh:1:cnt:"


class ApplyError(ValueError):
    """The input cannot be filtered as asked (missing column, unknown format, name clash)."""


@dataclass(frozen=True)
class Columns:
    host: str | None = "host"
    owner: str = "owner"
    name: str = "name"
    path: str = "path"
    content: str = "blob_id"
    repository: str | None = None  # one "owner/name" column instead of owner and name
    default_host: str | None = None  # when the data has no host column

    def required(self, matcher: Matcher) -> list[str]:
        """The columns the list needs: a rule kind whose column is missing would fail open."""
        kinds = matcher.kinds
        names: list[str] = [] if self.host is None else [self.host]
        names += [self.repository] if self.repository else [self.owner, self.name]
        if "file" in kinds:
            names.append(self.path)
        if "content" in kinds:
            names.append(self.content)
        return names


# -- 64-bit string hashes ------------------------------------------------------------------------

_M = np.uint64(0x9E3779B97F4A7C15)
_F1 = np.uint64(0xBF58476D1CE4E5B9)
_F2 = np.uint64(0x94D049BB133111EB)
_MASKS = np.array([(1 << (8 * r)) - 1 for r in range(9)], dtype=np.uint64)  # low r bytes
HEAD_WORDS = 2  # the first 16 bytes of a string are hashed, and its last 16: every byte of
TAIL_WORDS = 2  # a string of up to 32 bytes, the ends of a longer one (and always its length)


def _fmix(h: np.ndarray) -> np.ndarray:
    """Finish a hash (SplitMix64's finaliser), in place."""
    h ^= h >> np.uint64(30)
    h *= _F1
    h ^= h >> np.uint64(27)
    h *= _F2
    h ^= h >> np.uint64(31)
    return h


def _step(h: np.ndarray, word: np.ndarray) -> np.ndarray:
    h ^= word
    h *= _M
    h ^= h >> np.uint64(29)
    return h


def hash_strings(values: pa.Array) -> np.ndarray:
    """Hash each string of a ``pa.string()`` array to a uint64 (nulls hash as "").

    A deterministic function of the string's bytes (equal strings, equal hashes): its length,
    its first ``HEAD_WORDS`` and last ``TAIL_WORDS`` 8-byte words, read from the Arrow buffers.
    """
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    _, offsets_buffer, data_buffer = values.buffers()
    offsets = np.frombuffer(offsets_buffer, np.int32, n + 1, values.offset * 4)
    lens = offsets[1:] - offsets[:-1]
    if values.null_count:
        lens[~np.asarray(values.is_valid(), dtype=bool)] = 0
    first, size = int(offsets[0]), int(offsets[-1] - offsets[0])
    pad = 8 * HEAD_WORDS + 8  # so that head words past a string's end stay in the buffer
    padded = np.empty(size + pad, dtype=np.uint8)
    padded[size:] = 0
    if size:
        padded[:size] = np.frombuffer(data_buffer, np.uint8, size, first)
    # The 8 bytes starting at every byte position, as little-endian words (an unaligned view).
    words = np.ndarray((size + pad - 7,), dtype="<u8", buffer=padded, strides=(1,))
    starts = offsets[:-1].astype(np.intp)
    starts -= first
    longest, shortest = int(lens.max()), int(lens.min())
    h = lens.astype(np.uint64)
    h *= _M
    if shortest == longest >= 8 * HEAD_WORDS and longest % 8 == 0 and padded.ctypes.data % 8 == 0:
        # All of one length in whole words (blob ids: 40 hex digits): the same words as
        # below, read as the columns of a matrix instead of gathered.
        matrix = padded[:size].view("<u8").reshape(n, longest // 8)
        for k in range(HEAD_WORDS):
            _step(h, matrix[:, k])
        if longest > 8 * HEAD_WORDS:
            for k in range(1, TAIL_WORDS + 1):
                _step(h, matrix[:, longest // 8 - k])
        return h
    for k in range(HEAD_WORDS):  # always all of them: a row's hash must not depend on others
        if longest <= 8 * k:
            _step(h, np.zeros(n, dtype=np.uint64))
            continue
        word = words[starts + 8 * k] if k else words[starts]
        if shortest < 8 * (k + 1):
            remaining = lens - 8 * k
            np.clip(remaining, 0, 8, out=remaining)
            word &= _MASKS[remaining]
        _step(h, word)
    if longest > 8 * HEAD_WORDS:
        rows = np.flatnonzero(lens > 8 * HEAD_WORDS)
        ends = starts[rows] + lens[rows]
        tail = h[rows]
        for k in range(1, TAIL_WORDS + 1):
            _step(tail, words[ends - 8 * k])
        h[rows] = tail
    return h  # ``combine`` finishes it


def combine(*hashes: np.ndarray) -> np.ndarray:
    """One key from several field hashes (order matters); never 0, the empty slot."""
    h = np.full(len(hashes[0]), 0x2545F4914F6CDD1D, dtype=np.uint64)
    for part in hashes:
        _step(h, part)
    _fmix(h)
    h |= np.uint64(1)
    return h


# -- a uint64 -> int table with vectorised look-ups -----------------------------------------------

ABSENT = -1  # no rule has this key
NO_RULE = -3  # the key is present but carries no rule (a repository with only file rules)
_GROUP = -4  # values <= _GROUP: several rules share the key, group number _GROUP - value


class HashIndex:
    """Open addressing with linear probing over a power-of-two table, built and probed in numpy.

    ``values`` are non-negative positions, or ``NO_RULE``. A key given more than once keeps
    its one position (``NO_RULE`` entries give way); a key with several positions stores a
    group of them, and ``candidates`` proposes each in turn. A bitmap of 16 bits per key
    (2 MB for a million keys, so it stays in cache) answers most misses before the table.
    """

    def __init__(self, keys: np.ndarray, values: np.ndarray) -> None:
        keys, values = self._merge(keys.astype(np.uint64), values.astype(np.int64))
        bits = max(4, int(4 * len(keys) - 1).bit_length())  # load factor <= 1/4
        self.mask = (1 << bits) - 1
        self.shift = np.uint64(64 - bits)
        self.keys = np.zeros(1 << bits, dtype=np.uint64)  # 0: empty (keys are odd)
        self.values = np.full(1 << bits, ABSENT, dtype=np.int64)
        slots = (keys >> self.shift).astype(np.intp)
        pending = np.arange(len(keys))
        while pending.size:
            targets = slots[pending]
            free = np.flatnonzero(self.keys[targets] == 0)
            # Of the keys that want the same free slot, the first takes it; the rest move on.
            taken, first = _first_of_each(targets[free])
            placed = pending[free[first]]
            self.keys[taken] = keys[placed]
            self.values[taken] = values[placed]
            left = np.ones(len(pending), dtype=bool)
            left[free[first]] = False
            pending = pending[left]
            slots[pending] = (slots[pending] + 1) & self.mask
        bits = max(6, int(16 * len(keys) - 1).bit_length())
        self.bitmap_shift = np.uint64(64 - bits)
        self.bitmap = np.zeros(1 << (bits - 3), dtype=np.uint8)
        marks = (keys >> self.bitmap_shift).astype(np.intp)
        np.bitwise_or.at(self.bitmap, marks >> 3, np.left_shift(1, marks & 7).astype(np.uint8))

    def _merge(self, keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One entry per key; keys with several positions get a group (sorted positions)."""
        self.group_start = np.zeros(0, dtype=np.intp)
        self.group_size = np.zeros(0, dtype=np.intp)
        self.group_positions = np.zeros(0, dtype=np.int64)
        order = np.argsort(keys)
        keys, values = keys[order], values[order]
        starts = np.flatnonzero(np.diff(keys, prepend=keys[:1] - np.uint64(1)) != 0)
        if starts.size == keys.size:
            return keys, values
        unique = keys[starts]
        merged = np.maximum.reduceat(values, starts)  # the position, or NO_RULE if none
        rules = np.add.reduceat((values >= 0).astype(np.intp), starts)
        shared = np.flatnonzero(rules > 1)
        if shared.size:
            ends = np.append(starts[1:], len(values))[shared]
            self.group_size = rules[shared]
            self.group_start = np.concatenate([[0], np.cumsum(self.group_size)[:-1]])
            self.group_positions = np.concatenate(
                [np.sort(values[s:e][values[s:e] >= 0])
                 for s, e in zip(starts[shared], ends, strict=True)])
            merged[shared] = _GROUP - np.arange(shared.size)
        return unique, merged

    def find(self, keys: np.ndarray) -> np.ndarray:
        """Return the value stored for each key, ``ABSENT`` when it is not in the table."""
        found = np.full(len(keys), ABSENT, dtype=np.int64)
        marks = (keys >> self.bitmap_shift).astype(np.intp)
        bit = (marks & 7).astype(np.uint8)
        pending = np.flatnonzero((self.bitmap[marks >> 3] >> bit) & 1)
        keys = keys[pending]
        slots = (keys >> self.shift).astype(np.intp)
        while pending.size:
            stored = self.keys[slots]
            hit = stored == keys
            found[pending[hit]] = self.values[slots[hit]]
            going = ~hit & (stored != 0)
            pending, keys = pending[going], keys[going]
            slots = (slots[going] + 1) & self.mask
        return found

    def candidates(self, found: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield (rows, positions): the position ``find`` found for rows, then group members."""
        rows = np.flatnonzero(found >= 0)
        if rows.size:
            yield rows, found[rows]
        grouped = np.flatnonzero(found <= _GROUP)
        if grouped.size == 0:
            return
        group = _GROUP - found[grouped]
        for j in range(int(self.group_size[group].max())):
            member = self.group_size[group] > j
            yield grouped[member], self.group_positions[self.group_start[group[member]] + j]


def _first_of_each(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_index=True)``, without sorting values already sorted."""
    if values.size and (values[1:] >= values[:-1]).all():
        first = np.flatnonzero(np.diff(values, prepend=values[:1] - 1) != 0)
        return values[first], first
    return np.unique(values, return_index=True)


# -- batches -------------------------------------------------------------------------------------


@dataclass
class _Kind:
    """The rules of one kind: their positions in ``Matcher.rules``, fields and key table."""

    ids: np.ndarray
    fields: list[pa.Array]
    index: HashIndex


class BatchMatcher:
    """Vectorised ``Matcher``: per batch, the index of the rule that removes each row, or -1."""

    def __init__(self, matcher: Matcher, columns: Columns = Columns()) -> None:
        self.matcher, self.columns = matcher, columns
        self.salt = matcher.salt
        self.kinds = set(matcher.kinds)
        if self.salt is not None:
            self._salted = _SaltedLookup(matcher)
        else:
            self._build_plain(matcher)

    def _build_plain(self, matcher: Matcher) -> None:
        """The key tables, straight from the list's columns (no dict per rule)."""
        names = {"owner": ("host", "owner"), "repository": ("host", "owner", "name"),
                 "file": ("host", "owner", "name", "path"), "content": ("swhid",)}
        table = matcher.table
        ids = _positions_by_kind(table)
        # Hosts are few: a row's host is looked up among the rules' hosts, not hashed.
        self._hosts = pc.unique(_column(table, "host").drop_null())
        self._plain: dict[str, _Kind] = {}
        for kind in ("owner", "file", "repository", "content"):  # file rules feed repository
            take = pa.array(ids[kind])
            fields = [_column(table, f).take(take) for f in names[kind]]
            if kind == "content":
                fields = [pc.utf8_slice_codeunits(fields[0], len(_SWH))]
            keys = self._keys(fields)
            values = np.arange(len(ids[kind]), dtype=np.int64)
            if kind == "repository" and "file" in self.kinds:
                # The repositories of file rules too, without a rule: only the rows of those
                # repositories are looked up with their path.
                files = self._plain["file"].fields[:3]
                keys = np.concatenate([keys, self._keys(files)])
                values = np.concatenate([values, np.full(len(files[0]), NO_RULE)])
            self._plain[kind] = _Kind(np.asarray(ids[kind], dtype=np.int64), fields,
                                      HashIndex(keys, values))

    def _keys(self, fields: list[pa.Array], hashes: list[np.ndarray] | None = None) -> np.ndarray:
        """The table key of each row: host (if any) by its code, the other fields hashed."""
        if len(fields[0]) == 0:
            return np.zeros(0, dtype=np.uint64)
        if hashes is None:
            hashes = self._hashes(fields)
        return combine(*hashes)

    def _hashes(self, fields: list[pa.Array]) -> list[np.ndarray]:
        if len(fields) == 1:  # content
            return [hash_strings(fields[0])]
        codes = pc.fill_null(pc.index_in(fields[0], value_set=self._hosts), -1)
        return [codes.to_numpy().astype(np.uint64)] + [hash_strings(f) for f in fields[1:]]

    def rule_ids(self, batch: pa.RecordBatch | pa.Table) -> np.ndarray:
        """Return, for each row, the index in ``matcher.rules`` of its broadest rule, or -1."""
        out = np.full(batch.num_rows, -1, dtype=np.int64)
        if batch.num_rows == 0 or not len(self.matcher):
            return out
        if self.salt is not None:
            return self._salted.rule_ids(self, batch, out)
        if self.kinds & {"owner", "repository", "file"}:
            self._identity_ids(batch, out)
        if "content" in self.kinds:
            blobs = [_strip_swh(_lower(_text(batch, self.columns.content)))]
            found = self._confirm("content", blobs, self._keys(blobs))
            np.copyto(out, found, where=out < 0)
        return out

    def _identity_ids(self, batch, out: np.ndarray) -> None:
        fields = _identity(batch, self.columns)
        hashes = self._hashes(fields)
        if "owner" in self.kinds:
            out[:] = self._confirm("owner", fields[:2], self._keys(fields[:2], hashes[:2]))
            if fields[2].null_count:  # a row without a name matches no rule of these kinds
                out[np.asarray(fields[2].is_null(), dtype=bool)] = -1
        if not self.kinds & {"repository", "file"}:
            return
        found = self._plain["repository"].index.find(self._keys(fields, hashes))
        np.copyto(out, self._confirm("repository", fields, found=found), where=out < 0)
        if "file" in self.kinds:
            # Only rows whose repository has file rules (or shares a key with one that has)
            # are looked up with their path.
            rows = np.flatnonzero((found != ABSENT) & (out < 0))
            if rows.size:
                take = pa.array(rows)
                narrowed = [f.take(take) for f in fields]
                narrowed.append(_text(batch, self.columns.path).take(take))
                keys = combine(*[h[rows] for h in hashes], hash_strings(narrowed[3]))
                out[rows] = self._confirm("file", narrowed, keys)

    def _confirm(self, kind: str, fields: list[pa.Array], keys: np.ndarray | None = None,
                 found: np.ndarray | None = None) -> np.ndarray:
        """Rule index per row of ``fields``: a table hit whose strings all equal the rule's."""
        table = self._plain[kind]
        if found is None:
            found = table.index.find(keys)
        out = np.full(len(fields[0]), -1, dtype=np.int64)
        for rows, positions in table.index.candidates(found):
            take, where = pa.array(rows), pa.array(positions)
            same = np.ones(rows.size, dtype=bool)
            for data, rule in zip(fields, table.fields, strict=True):
                equal = pc.equal(data.take(take), rule.take(where))
                same &= pc.fill_null(equal, False).to_numpy(zero_copy_only=False)
            same &= out[rows] < 0
            out[rows[same]] = table.ids[positions[same]]
        return out


def _column(table: pa.Table, name: str) -> pa.Array:
    column = table[name]
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def _positions_by_kind(table: pa.Table) -> dict[str, np.ndarray]:
    """The row numbers (rule indices) of each kind's rules, in list order."""
    kind = _column(table, "kind")
    return {k: np.flatnonzero(pc.equal(kind, k).to_numpy(zero_copy_only=False))
            for k in KIND_ORDER}


def _identity(batch, c: Columns) -> list[pa.Array]:
    """Lower-cased host, owner and name of each row (null where unknown)."""
    if c.host is None:
        host = pa.array([c.default_host], pa.string()).take(
            pa.array(np.zeros(batch.num_rows, dtype=np.int32)))
    else:
        host = _text(batch, c.host)
    if c.repository:
        parts = pc.extract_regex(_text(batch, c.repository), r"^(?P<o>[^/]+)/(?P<n>.+)$")
        owner, name = pc.struct_field(parts, [0]), pc.struct_field(parts, [1])
    else:
        owner, name = _text(batch, c.owner), _text(batch, c.name)
    return [_lower(host), _lower(owner), _lower(name)]


def _ascii(values: pa.Array) -> bool:
    """Whether every byte of the strings (and of what nulls cover) is ASCII."""
    if len(values) == 0:
        return True
    offsets = np.frombuffer(values.buffers()[1], np.int32, 2, values.offset * 4)
    offsets = (int(offsets[0]), int(np.frombuffer(
        values.buffers()[1], np.int32, 1, (values.offset + len(values)) * 4)[0]))
    if offsets[1] == offsets[0]:
        return True
    data = np.frombuffer(values.buffers()[2], np.uint8, offsets[1] - offsets[0], offsets[0])
    return int(data.max()) < 0x80


def _strip_swh(blobs: pa.Array) -> pa.Array:
    """The SHA-1 of a lower-cased ``swh:1:cnt:`` SWHID; other values as they are."""
    if not pc.any(pc.starts_with(blobs, _SWH)).as_py():  # slicing every row costs 0.15 s/M
        return blobs
    return pc.if_else(pc.starts_with(blobs, _SWH),
                      pc.utf8_slice_codeunits(blobs, len(_SWH)), blobs)


def _text(batch, name: str) -> pa.Array:
    column = batch.column(name) if isinstance(batch, pa.RecordBatch) else batch[name]
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if pa.types.is_large_string(column.type) or pa.types.is_string_view(column.type):
        column = column.cast(pa.string())
    if pa.types.is_null(column.type):
        column = column.cast(pa.string())
    if not pa.types.is_string(column.type):
        raise ApplyError(f"column {name!r} is {column.type}, not a string column")
    return column


def _lower(values: pa.Array) -> pa.Array:
    """Lower-case like Python's ``str.lower`` (pyarrow's differs for a few non-ASCII letters)."""
    if _ascii(values):
        return pc.ascii_lower(values)
    encoded = pc.dictionary_encode(values)
    lowered = pa.array([v.lower() for v in encoded.dictionary.to_pylist()], pa.string())
    return pc.take(lowered, encoded.indices)


# -- privacy mode --------------------------------------------------------------------------------


class _SaltedLookup:
    """Hashed rules: salted SHA-256 of each distinct candidate, looked up in dicts."""

    def __init__(self, matcher: Matcher) -> None:
        assert matcher.salt is not None
        self.salt = matcher.salt
        hashes = _column(matcher.table, "h")
        self.lookup: dict[str, dict[str, int]] = {
            kind: dict(zip(hashes.take(pa.array(ids)).to_pylist(), ids.tolist(), strict=True))
            for kind, ids in _positions_by_kind(matcher.table).items()}

    def _hash(self, kind: str, key: str) -> str:
        return hashlib.sha256(self.salt + f"{kind}:{key.replace(SEP, '/')}".encode()).hexdigest()

    def rule_ids(self, owner: BatchMatcher, batch, out: np.ndarray) -> np.ndarray:
        if owner.kinds & {"owner", "repository", "file"}:
            # One key per row (host, owner, name); everything else per distinct repository.
            keys = pc.binary_join_element_wise(*_identity(batch, owner.columns), SEP)
            encoded = pc.dictionary_encode(keys)
            distinct = encoded.dictionary.to_pylist()
            rows = pc.fill_null(encoded.indices, len(distinct)).to_numpy()
            per_repo = self._repository_ids(distinct)
            np.copyto(out, per_repo[rows], where=(out < 0))
            if self.lookup["file"]:
                self._file_ids(batch, owner.columns, distinct, rows, out)
        if self.lookup["content"]:
            blobs = _strip_swh(_lower(_text(batch, owner.columns.content)))
            np.copyto(out, self._content_ids(blobs), where=(out < 0))
        return out

    def _repository_ids(self, distinct: list[str]) -> np.ndarray:
        """Per distinct repository key (plus a last slot for null): its rule or -1."""
        owners, repos, h = self.lookup["owner"], self.lookup["repository"], self._hash
        found = np.full(len(distinct) + 1, -1, dtype=np.int64)
        if owners:
            found[:-1] = [owners.get(h("owner", d[:d.rfind(SEP)]), -1) for d in distinct]
        if repos:
            ids = np.asarray([repos.get(h("repository", d), -1) for d in distinct], np.int64)
            np.copyto(found[:-1], ids, where=found[:-1] < 0)
        return found

    def _file_ids(self, batch, columns: Columns, distinct: list[str], rows: np.ndarray,
                  out: np.ndarray) -> None:
        """Every row of a known repository is a candidate: hashed rules cannot be narrowed."""
        candidates = np.flatnonzero((rows < len(distinct)) & (out < 0))
        if candidates.size == 0:
            return
        files = self.lookup["file"]
        paths = _text(batch, columns.path).take(pa.array(candidates)).to_pylist()
        for row, path in zip(candidates.tolist(), paths, strict=True):
            if path is not None:
                out[row] = files.get(self._hash("file", distinct[rows[row]] + SEP + path), -1)

    def _content_ids(self, sha1: pa.Array) -> np.ndarray:
        table = self.lookup["content"]
        found = []
        for value in sha1.to_pylist():  # distinct per row: one hash per row, said in the README
            try:
                swhid = content_id(value) if value else None
            except ValueError:
                swhid = None
            digest = swhid and hashlib.sha256(self.salt + f"content:{swhid}".encode()).hexdigest()
            found.append(table.get(digest, -1) if digest else -1)
        return np.asarray(found, dtype=np.int64)
