"""Apply a verified exclusion list to dataset shards (Parquet, JSON Lines), batch by batch.

Matching is vectorised with pyarrow. For each rule kind a key column is built per batch
(host, owner, name lower-cased, joined with NUL, which no rule can contain; the path as is),
dictionary-encoded, and only its *distinct* values are looked up in a dict built once from
the list. Lookups therefore cost O(distinct values), not O(rows) and not O(rules) per batch:
``pyarrow.compute.is_in`` rebuilds its hash table of the value set on every call, about 0.3 s
per batch for a million rules. Content rules (blob ids are nearly all distinct) use
``index_in`` against the content rules instead. In privacy mode the distinct candidates are
hashed with the manifest's salt in Python (hashlib has no vectorised form in pyarrow); rows
still never reach Python one by one.

Each row is attributed to the broadest rule that covers it (owner, repository, file,
content), as ``Matcher.excluded`` does. A row whose host, owner or name is null matches no
owner/repository/file rule. Lower-casing uses pyarrow for ASCII columns and Python's
``str.lower`` otherwise, so it agrees exactly with how rules were made.

Output is written to a temporary file in the output directory and renamed over the final
name only when the shard is complete: a failure leaves no partial file.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import queue
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson
import pyarrow.parquet as pq

from shared.exclusions.format import Matcher, content_id, identifier

SEP = "\x00"
KIND_ORDER = ("owner", "repository", "file", "content")
BATCH_ROWS = 1 << 19
JSONL_BLOCK = 64 << 20  # bytes of JSON Lines parsed at once
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
        kinds = {rule["kind"] for rule in matcher.rules}
        names: list[str] = [] if self.host is None else [self.host]
        names += [self.repository] if self.repository else [self.owner, self.name]
        if "file" in kinds:
            names.append(self.path)
        if "content" in kinds:
            names.append(self.content)
        return names


@dataclass
class ShardReport:
    input: str
    output: str
    rows_in: int = 0
    rows_out: int = 0
    bytes_in: int = 0


@dataclass
class Report:
    list_version: int | None = None
    shards: list[ShardReport] = field(default_factory=list)
    removed: Counter = field(default_factory=Counter)  # rule index -> rows

    def as_json(self, matcher: Matcher) -> dict:
        rows_in = sum(s.rows_in for s in self.shards)
        rows_out = sum(s.rows_out for s in self.shards)
        return {
            "list_version": self.list_version,
            "rules": len(matcher),
            "rules_matched": len(self.removed),
            "removed_by_rule": [
                {"rule": matcher.rules[i], "rows": n} for i, n in sorted(self.removed.items())
            ],
            "shards": [s.__dict__ | {"rows_removed": s.rows_in - s.rows_out}
                       for s in self.shards],
            "totals": {
                "rows_in": rows_in, "rows_out": rows_out, "rows_removed": rows_in - rows_out
            },
        }


# -- matching ------------------------------------------------------------------------------------


class BatchMatcher:
    """Vectorised ``Matcher``: per batch, the index of the rule that removes each row, or -1."""

    def __init__(self, matcher: Matcher, columns: Columns = Columns()) -> None:
        self.matcher, self.columns = matcher, columns
        self.salt = matcher.salt
        self.lookup: dict[str, dict[str, int]] = {k: {} for k in KIND_ORDER}
        content: list[str] = []
        self.content_ids: list[int] = []
        for index, rule in enumerate(matcher.rules):
            kind = rule["kind"]
            if self.salt is not None:
                self.lookup[kind][rule["h"]] = index
            elif kind == "content":
                content.append(rule["swhid"][len(_SWH):])
                self.content_ids.append(index)
            else:
                self.lookup[kind][SEP.join(identifier(rule).split("/", 3))] = index
        self.content = pa.array(content, pa.string())
        self.kinds = {rule["kind"] for rule in matcher.rules}
        # Plain lists: repository key -> its repository rule, -1 if it only has file rules.
        # Absent (-2 on look-up): neither. In privacy mode file rules cannot be narrowed so.
        self.repositories: dict[str, int] = {}
        if self.salt is None:
            self.repositories = dict.fromkeys(
                (key.rsplit(SEP, 1)[0] for key in self.lookup["file"]), -1)
            self.repositories.update(self.lookup["repository"])

    def rule_ids(self, batch: pa.RecordBatch | pa.Table) -> np.ndarray:
        """Return, for each row, the index in ``matcher.rules`` of its broadest rule, or -1."""
        out = np.full(batch.num_rows, -1, dtype=np.int64)
        if batch.num_rows == 0 or not self.matcher.rules:
            return out
        if self.kinds & {"owner", "repository", "file"}:
            # One key per row (host, owner, name); everything else is per distinct repository.
            keys = pc.binary_join_element_wise(*self._identity(batch), SEP)
            encoded = pc.dictionary_encode(keys)
            distinct = encoded.dictionary.to_pylist()
            rows = pc.fill_null(encoded.indices, len(distinct)).to_numpy()
            per_repo, has_files = self._repository_ids(distinct)
            np.copyto(out, per_repo[rows], where=(out < 0))
            if "file" in self.kinds:
                self._file_ids(batch, distinct, rows, has_files, out)
        if "content" in self.kinds:
            ids = self._content_ids(_text(batch, self.columns.content))
            if ids is not None:
                np.copyto(out, ids, where=(out < 0))
        return out

    def _identity(self, batch) -> list[pa.Array]:
        c = self.columns
        if c.host is None:
            host = pa.array([c.default_host] * batch.num_rows, pa.string())
        else:
            host = _text(batch, c.host)
        if c.repository:
            parts = pc.extract_regex(_text(batch, c.repository), r"^(?P<o>[^/]+)/(?P<n>.+)$")
            owner, name = pc.struct_field(parts, [0]), pc.struct_field(parts, [1])
        else:
            owner, name = _text(batch, c.owner), _text(batch, c.name)
        return [_lower(host), _lower(owner), _lower(name)]

    def _hash(self, kind: str, key: str) -> str:
        assert self.salt is not None
        return hashlib.sha256(self.salt + f"{kind}:{key.replace(SEP, '/')}".encode()).hexdigest()

    def _repository_ids(self, distinct: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Per distinct repository key (plus a last slot for null): its rule, has file rules."""
        owners, repos = self.lookup["owner"], self.lookup["repository"]
        found = np.full(len(distinct) + 1, -1, dtype=np.int64)
        has_files = np.zeros(len(distinct) + 1, dtype=bool)
        if self.salt is not None:
            h = self._hash
            if owners:
                found[:-1] = [owners.get(h("owner", d[:d.rfind(SEP)]), -1) for d in distinct]
            if repos:
                ids = np.asarray([repos.get(h("repository", d), -1) for d in distinct], np.int64)
                np.copyto(found[:-1], ids, where=found[:-1] < 0)
            has_files[:-1] = bool(self.lookup["file"])  # hashed: every row is a candidate
            return found, has_files
        if owners:
            found[:-1] = [owners.get(d[:d.rfind(SEP)], -1) for d in distinct]
        if self.repositories:  # one look-up answers the repository rule and "has file rules"
            ids = np.asarray([self.repositories.get(d, -2) for d in distinct], dtype=np.int64)
            has_files[:-1] = ids >= -1
            np.copyto(found[:-1], np.maximum(ids, -1), where=found[:-1] < 0)
        return found, has_files

    def _file_ids(self, batch, distinct: list[str], rows: np.ndarray, has_files: np.ndarray,
                  out: np.ndarray) -> None:
        """Look up file rules only for rows of repositories that have file rules."""
        candidates = np.flatnonzero(has_files[rows] & (out < 0))
        if candidates.size == 0:
            return
        files = self.lookup["file"]
        paths = _text(batch, self.columns.path).take(pa.array(candidates)).to_pylist()
        for row, path in zip(candidates.tolist(), paths, strict=True):
            if path is not None:
                key = distinct[rows[row]] + SEP + path
                out[row] = files.get(self._hash("file", key) if self.salt else key, -1)

    def _content_ids(self, blobs: pa.Array) -> np.ndarray | None:
        blobs = _lower(blobs)
        sha1 = blobs
        if pc.any(pc.starts_with(blobs, _SWH)).as_py():  # slicing every row costs 0.15 s/M
            sha1 = pc.if_else(pc.starts_with(blobs, _SWH),
                              pc.utf8_slice_codeunits(blobs, len(_SWH)), blobs)
        if self.salt is not None:
            return self._hashed_content(sha1)
        if len(self.content) == 0:
            return None
        found = pc.index_in(sha1, value_set=self.content)
        if found.null_count == len(found):
            return None
        ids = np.asarray(self.content_ids + [-1], dtype=np.int64)
        return ids[pc.fill_null(found, len(self.content_ids)).to_numpy()]

    def _hashed_content(self, sha1: pa.Array) -> np.ndarray | None:
        table = self.lookup.get("content")
        if not table:
            return None
        found = []
        for value in sha1.to_pylist():  # distinct per row: one hash per row, said in the README
            try:
                swhid = content_id(value) if value else None
            except ValueError:
                swhid = None
            digest = swhid and hashlib.sha256(self.salt + f"content:{swhid}".encode()).hexdigest()
            found.append(table.get(digest, -1) if digest else -1)
        return np.asarray(found, dtype=np.int64)


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
    if pc.all(pc.string_is_ascii(values)).as_py() is not False:
        return pc.ascii_lower(values)
    encoded = pc.dictionary_encode(values)
    lowered = pa.array([v.lower() for v in encoded.dictionary.to_pylist()], pa.string())
    return pc.take(lowered, encoded.indices)


# -- shards --------------------------------------------------------------------------------------


def shard_format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith((".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")):
        return "jsonl"
    raise ApplyError(f"{path}: unknown shard format (expected .parquet, .jsonl or .jsonl.gz)")


def check_columns(path: Path, needed: list[str]) -> None:
    """Raise ApplyError when a shard lacks a column the list needs."""
    if shard_format(path) == "parquet":
        names = set(pq.read_schema(path).names)
    else:
        first = _first_line(path)
        if first is None:
            return  # an empty shard has nothing to filter
        names = set(pajson.read_json(io.BytesIO(first)).column_names)
    missing = [n for n in needed if n not in names]
    if missing:
        raise ApplyError(f"{path}: missing column(s) {', '.join(missing)} "
                         f"(has {', '.join(sorted(names))})")


def _open_text(path: Path, mode: str = "rb"):
    return gzip.open(path, mode) if path.name.endswith(".gz") else open(path, mode)  # noqa: SIM115


def _first_line(path: Path) -> bytes | None:
    with _open_text(path) as handle:
        for line in handle:
            if line.strip():
                return line
    return None


def apply_shard(
    matcher: BatchMatcher,
    source: Path,
    target: Path,
    report: Report,
    progress: Callable[[int], None] = lambda n: None,
) -> ShardReport:
    """Filter one shard into ``target`` atomically; count removals per rule into ``report``."""
    shard = ShardReport(str(source), str(target), bytes_in=source.stat().st_size)
    fd, temp = tempfile.mkstemp(prefix=".tmp-", suffix=f"-{target.name}", dir=target.parent)
    os.close(fd)
    try:
        if shard_format(source) == "parquet":
            _filter_parquet(matcher, source, Path(temp), shard, report, progress)
        else:
            _filter_jsonl(matcher, source, Path(temp), shard, report, progress)
        with open(temp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    report.shards.append(shard)
    return shard


def _count(ids: np.ndarray, report: Report) -> np.ndarray:
    removed = ids >= 0
    if removed.any():
        values, counts = np.unique(ids[removed], return_counts=True)
        report.removed.update(dict(zip(values.tolist(), counts.tolist(), strict=True)))
    return ~removed


def _filter_parquet(matcher, source, temp, shard, report, progress) -> None:
    reader = pq.ParquetFile(source)
    meta = reader.metadata
    codec = meta.row_group(0).column(0).compression.lower() if meta.num_row_groups else "zstd"
    needed = sorted(set(matcher.columns.required(matcher.matcher)))
    # The writer runs one batch behind on a second thread (pyarrow releases the GIL while it
    # encodes and compresses), so matching the next batch overlaps writing this one.
    with pq.ParquetWriter(temp, reader.schema_arrow,
                          compression="none" if codec == "uncompressed" else codec) as writer, \
            ThreadPoolExecutor(max_workers=1) as pool:
        pending = None
        for batch in _prefetched(reader.iter_batches(batch_size=BATCH_ROWS)):
            keep = _count(matcher.rule_ids(batch.select(needed)), report)
            kept = batch if keep.all() else batch.filter(pa.array(keep))
            if pending is not None:
                pending.result()
            pending = pool.submit(writer.write_batch, kept)
            shard.rows_in += batch.num_rows
            shard.rows_out += kept.num_rows
            progress(batch.num_rows)
        if pending is not None:
            pending.result()


def _prefetched(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Decode the next batch on a thread while this one is matched (one batch ahead)."""
    done = object()
    ahead: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in batches:
                if stop.is_set():
                    return
                ahead.put(batch)
            ahead.put(done)
        except BaseException as error:  # handed to the consumer, raised there
            ahead.put(error)

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    try:
        while (item := ahead.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                ahead.get(timeout=0.05)
        thread.join()


def _jsonl_blocks(path: Path) -> Iterator[list[bytes]]:
    with _open_text(path) as handle:
        rest = b""
        while block := handle.read(JSONL_BLOCK):
            lines = (rest + block).split(b"\n")
            rest = lines.pop()
            if lines := [line for line in lines if line.strip()]:
                yield lines
        if rest.strip():
            yield [rest]


def _filter_jsonl(matcher, source, temp, shard, report, progress) -> None:
    """Keep the kept lines byte for byte: only the matched columns are parsed."""
    needed = sorted(set(matcher.columns.required(matcher.matcher)))
    schema = pa.schema([(name, pa.string()) for name in needed])
    options = pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    with _open_text(temp, "wb") as out:
        for lines in _jsonl_blocks(source):
            table = pajson.read_json(io.BytesIO(b"\n".join(lines)), parse_options=options)
            if table.num_rows != len(lines):
                raise ApplyError(f"{source}: {len(lines)} lines parsed as {table.num_rows} rows")
            keep = _count(matcher.rule_ids(table), report)
            kept = lines if keep.all() else [line for line, k in zip(lines, keep, strict=True) if k]
            out.writelines(line + b"\n" for line in kept)
            shard.rows_in += len(lines)
            shard.rows_out += len(kept)
            progress(len(lines))


def plan_outputs(inputs: list[Path], out_dir: Path) -> list[tuple[Path, Path]]:
    """Pair each input with ``out_dir/<same name>``; refuse clashes and in-place writes."""
    pairs, seen = [], set()
    for source in inputs:
        shard_format(source)
        target = out_dir / source.name
        if target.name in seen:
            raise ApplyError(f"two inputs are named {source.name}: outputs would clash")
        if target.resolve() == source.resolve():
            raise ApplyError(f"{source}: --out would overwrite the input")
        seen.add(target.name)
        pairs.append((source, target))
    return pairs
