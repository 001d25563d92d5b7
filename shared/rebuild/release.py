"""Writing a release: deterministic Parquet shards, resumable, plus catalog and changelog.

A release is two directories (``Layout``). The release directory is what gets published and
names released repositories only::

    manifest.json            canonical JSON, written last (see ``pipeline``)
    data/part-00000-of-00016.parquet ...
    catalog.jsonl            one line per released repository, for ``optout catalog load``

The private directory (default: the release directory's sibling ``<name>.private``) stays with
the builders: it names every input repository, opted-out ones included::

    changelog.json           against the previous release
    clusters.parquet         every candidate copy: its cluster, rank and status
    ledger.parquet           every input file and its fate (released, or the reason it is not)
    inputs.json              the sources and their fingerprints (the manifest has their hash)
    state/part-*.json        per shard: the plan it was written from and its SHA-256
    work/                    the default cache of annotated inputs, signatures and clusters

A repository goes to shard ``int(sha256(repo_key)[:16], 16) % shards``, so a change in one
repository rewrites one shard. Rows are sorted by (host, owner, name, path), row groups have
a fixed size, compression is zstd at a fixed level: the same rows give the same bytes. A
shard whose plan (a hash of its rows' identity and of every setting that shapes its bytes)
matches a completed shard of this release, or of the previous one, is not written again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from shared.atomic import atomic_path, write_atomic
from shared.pii import Scanner, redact
from shared.rebuild.config import RebuildConfig

RELEASE_SCHEMA = pa.schema([
    ("host", pa.string()), ("owner", pa.string()), ("name", pa.string()),
    ("path", pa.string()), ("blob_id", pa.string()), ("swhid", pa.string()),
    ("directory_swhid", pa.string()), ("revision", pa.string()), ("language", pa.string()),
    ("license_expression", pa.string()), ("license_type", pa.string()), ("size", pa.int64()),
    ("content", pa.string()), ("content_sha256", pa.string()), ("redactions", pa.int32()),
    ("cluster_id", pa.string()), ("cluster_size", pa.int32()),
])
PLAN_FIELDS = ("repo_key", "path", "blob_id", "language", "license_expression", "license_type",
               "directory_swhid", "revision", "cluster_id", "cluster_size")


@dataclass(frozen=True)
class Layout:
    """Where a release goes: ``public`` is published, ``private`` stays with the builders."""

    public: Path
    private: Path

    @classmethod
    def of(cls, public: Path, private: Path | None = None) -> Layout:
        return cls(public, private if private is not None else default_private(public))

    @property
    def state(self) -> Path:
        return self.private / "state"


def default_private(public: Path) -> Path:
    """``releases/v2`` -> ``releases/v2.private``."""
    return public.with_name(public.name + ".private")


def shard_name(index: int, total: int) -> str:
    return f"data/part-{index:05d}-of-{total:05d}.parquet"


def shard_of(repo_keys: pa.Array | pa.ChunkedArray, shards: int) -> np.ndarray:
    if isinstance(repo_keys, pa.ChunkedArray):
        repo_keys = repo_keys.combine_chunks()
    encoded = pc.dictionary_encode(repo_keys)
    per_key = np.array([int(hashlib.sha256(k.encode()).hexdigest()[:16], 16) % shards
                        for k in encoded.dictionary.to_pylist()], dtype=np.int64)
    return per_key[encoded.indices.to_numpy()] if len(per_key) else np.zeros(0, np.int64)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def write_table(path: Path, table: pa.Table, config: RebuildConfig) -> None:
    """Write a Parquet file atomically with fixed settings (same table, same bytes)."""
    with atomic_path(path) as temp:
        pq.write_table(table, temp, row_group_size=config.row_group_rows, compression="zstd",
                       compression_level=config.compression_level, write_statistics=True,
                       use_dictionary=True)


def shard_plan(rows: pa.Table, settings: str) -> str:
    digest = hashlib.sha256(settings.encode() + b"\n")
    columns = [rows[name].to_pylist() for name in PLAN_FIELDS]
    for values in zip(*columns, strict=True):
        digest.update(repr(values).encode("utf-8", "surrogatepass") + b"\n")
    return digest.hexdigest()


class ShardWriter:
    """Redacts and writes the shards of one release, skipping those already complete."""

    def __init__(self, layout: Layout, config: RebuildConfig, settings: str, scanner: Scanner,
                 false_positives: frozenset, previous: Layout | None):
        self.layout, self.config, self.settings = layout, config, settings
        self.scanner, self.false_positives, self.previous = scanner, false_positives, previous
        self.reused = Counter()
        self.redacted_files = 0
        self.redactions = 0

    def write(self, index: int, rows: pa.Table, progress: Callable[[int], object]) -> dict:
        name = shard_name(index, self.config.shards)
        target = self.layout.public / name
        plan = shard_plan(rows, self.settings)
        done = self._completed(self.layout, name, plan)
        if done is not None:
            self.reused["this_release"] += 1
        elif self.previous is not None and (old := self._completed(self.previous, name, plan)):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.previous.public / name,
                            target.with_name(f".{target.name}.copy"))
            os.replace(target.with_name(f".{target.name}.copy"), target)
            done = old
            self.reused["previous_release"] += 1
        else:
            done = self._write(target, rows)
        self._redacted_counts(done)
        state = {"plan": plan, **done}
        write_atomic(self.layout.state / f"{Path(name).stem}.json",
                     json.dumps(state, sort_keys=True).encode())
        progress(len(rows))
        return {"path": name, **done}

    def _redacted_counts(self, done: dict) -> None:
        self.redacted_files += done["redacted_files"]
        self.redactions += done["redactions"]

    @staticmethod
    def _completed(layout: Layout, name: str, plan: str) -> dict | None:
        state_path = layout.state / f"{Path(name).stem}.json"
        try:
            state = json.loads(state_path.read_text("utf-8"))
        except (OSError, ValueError):
            return None
        if state.get("plan") != plan or not (layout.public / name).is_file():
            return None
        if sha256_file(layout.public / name) != state.get("sha256"):
            return None
        return {k: state[k] for k in ("sha256", "rows", "bytes", "redacted_files", "redactions")}

    def _write(self, target: Path, rows: pa.Table) -> dict:
        contents, hashes, counts = [], [], []
        for path, data in zip(rows["path"].to_pylist(), rows["content"].to_pylist(),
                              strict=True):
            findings = [f for f in self.scanner.scan_bytes(data, path)
                        if (f.fingerprint, f.rule) not in self.false_positives]
            text = data.decode("utf-8")
            if findings:
                text = redact(text, findings, pseudonymize_ips=self.config.pseudonymize_ips)
            contents.append(text)
            hashes.append(hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest())
            counts.append(len(findings))
        table = pa.table({
            **{name: rows[name] for name in ("host", "owner", "name", "path", "blob_id")},
            "swhid": pc.binary_join_element_wise("swh:1:cnt:", rows["blob_id"], ""),
            **{name: rows[name] for name in ("directory_swhid", "revision", "language",
                                             "license_expression", "license_type", "size")},
            "content": pa.array(contents, pa.string()), "content_sha256": hashes,
            "redactions": pa.array(counts, pa.int32()),
            "cluster_id": rows["cluster_id"], "cluster_size": rows["cluster_size"],
        }, schema=RELEASE_SCHEMA)
        write_table(target, table, self.config)
        return {"sha256": sha256_file(target), "rows": len(table),
                "bytes": target.stat().st_size, "redacted_files": sum(1 for c in counts if c),
                "redactions": sum(counts)}


def catalog_lines(released: pa.Table, release: str) -> bytes:
    """One JSON line per released repository, sorted by repository key."""
    if len(released) == 0:
        return b""
    grouped = released.group_by(["repo_key", "host", "owner", "name"]).aggregate(
        [("path", "count")]).sort_by("repo_key")
    lines = []
    for row in grouped.to_pylist():
        line = {"host": row["host"], "owner": row["owner"], "name": row["name"],
                "release": release, "files": row["path_count"]}
        lines.append(json.dumps(line, sort_keys=True, separators=(",", ":")).encode() + b"\n")
    return b"".join(lines)
