"""Apply a verified exclusion list to dataset shards (Parquet, JSON Lines), batch by batch.

Each batch goes through ``matching.BatchMatcher`` (vectorised, O(rows) per batch whatever the
number of rules), which attributes each row to the broadest rule that covers it; the report
counts rows per rule. Reading runs one batch ahead and writing one batch behind on threads,
so matching overlaps the Parquet decoding and encoding.

Output is written to a temporary file in the output directory and renamed over the final
name only when the shard is complete: a failure leaves no partial file.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import queue
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.json as pajson
import pyarrow.parquet as pq

from shared.atomic import atomic_path
from shared.exclusions.format import Matcher
from shared.exclusions.matching import ApplyError, BatchMatcher, Columns

__all__ = ["ApplyError", "BatchMatcher", "Columns", "Report", "ShardReport", "apply_shard",
           "check_columns", "plan_outputs", "shard_format"]

BATCH_ROWS = 1 << 19
JSONL_BLOCK = 64 << 20  # bytes of JSON Lines parsed at once


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
    _removed: Counter = field(default_factory=Counter)
    _pending: list[np.ndarray] = field(default_factory=list)  # rule ids, counted when read

    @property
    def removed(self) -> Counter:
        """Rows removed per rule index."""
        self.tally()
        return self._removed

    def tally(self) -> None:
        """Count the pending rule ids of removed rows."""
        if self._pending:
            values, counts = np.unique(np.concatenate(self._pending), return_counts=True)
            self._removed.update(dict(zip(values.tolist(), counts.tolist(), strict=True)))
            self._pending.clear()

    def as_json(self, matcher: Matcher) -> dict:
        rows_in = sum(s.rows_in for s in self.shards)
        rows_out = sum(s.rows_out for s in self.shards)
        ids = sorted(self.removed)
        return {
            "list_version": self.list_version,
            "rules": len(matcher),
            "rules_matched": len(self.removed),
            "removed_by_rule": [
                {"rule": rule, "rows": n} for rule, n in zip(
                    matcher.rules.take(ids), [self.removed[i] for i in ids], strict=True)
            ],
            "shards": [s.__dict__ | {"rows_removed": s.rows_in - s.rows_out}
                       for s in self.shards],
            "totals": {
                "rows_in": rows_in, "rows_out": rows_out, "rows_removed": rows_in - rows_out
            },
        }


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
    with atomic_path(target) as temp:
        if shard_format(source) == "parquet":
            _filter_parquet(matcher, source, temp, shard, report, progress)
        else:
            _filter_jsonl(matcher, source, temp, shard, report, progress)
    report.shards.append(shard)
    return shard


def _count(ids: np.ndarray, report: Report) -> np.ndarray:
    """Note which rule removed each removed row (counted once, when read); return the keep mask."""
    removed = ids >= 0
    if removed.any():
        report._pending.append(ids[removed])
        if len(report._pending) > 64:  # bound the memory held for counting
            report.tally()
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
