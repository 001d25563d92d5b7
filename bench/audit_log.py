#!/usr/bin/env python3
"""Benchmark of the audit log: append throughput, proof latency and full verification by size.

For each backend (a SQLite file in a temporary directory, or a temporary PostgreSQL schema)
the script makes a fresh migrated instance with a signing key, then for each log size S, in
ascending order:

  1. bulk-builds the log up to exactly S entries: canonical entries (``build_entry``) and their
     complete-subtree hashes (``merkle.nodes_after_append``, the arithmetic ``append`` uses),
     inserted in batches (``executemany`` on SQLite, ``COPY`` on PostgreSQL), one transaction
     per 200,000 entries. One real append per entry would take hours at 1M;
  2. publishes a checkpoint at S and times --proofs random inclusion proofs (leaf uniform in
     [0, S)) and consistency proofs (old size uniform in [1, S)) to size S through
     ``server.auditlog`` (each reads its O(log n) stored nodes in one query); the first few
     are verified against the checkpoint's root, outside the timing;
  3. times a full ``verify_log`` (every entry parsed and hashed, every node compared, every
     checkpoint's signature checked);
  4. times --appends real appends on top, one entry per transaction (``record_action`` inside
     ``db.atomic()``, as every workflow does), so the next size starts S + appends long.

It prints one table per backend and the ratio of the median proof time at the largest size to
that at the smallest, against the target: under 3 from 1k to 1M (proofs must cost O(log n)).
Progress goes to stderr. The temporary directory and schema are removed afterwards. Exits 0
when the benchmark ran (a missed target is reported, not failed), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import os
import platform
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

DEFAULT_SIZES = "1000,100000,1000000"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
BATCH = 20_000  # entries per bulk insert
TXN = 200_000  # entries per bulk transaction
TARGET_RATIO = 3.0
CHECKED_PROOFS = 20  # proofs verified against the checkpoint, outside the timing

EXAMPLE = """\
example:
  .venv/bin/python bench/audit_log.py

  # both backends, PostgreSQL only up to 100k entries, more proofs:
  .venv/bin/python bench/audit_log.py --backends sqlite,postgresql --pg-max-size 100000 \\
      --proofs 500
"""


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- results --------------------------------------------------------------------------


@dataclass
class SizeResult:
    size: int
    build_s: float = 0.0
    inclusion_ms: list[float] = field(default_factory=list)
    consistency_ms: list[float] = field(default_factory=list)
    verify_s: float = 0.0
    append_ms: list[float] = field(default_factory=list)

    @property
    def appends_per_s(self) -> float:
        return len(self.append_ms) / (sum(self.append_ms) / 1000) if self.append_ms else 0.0


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def p99(values: list[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


# --- instances ------------------------------------------------------------------------


@contextlib.contextmanager
def instance(backend: str, pg_dsn: str):
    """Yield a Flask app on a fresh migrated database with a signing key; remove it all after."""
    from server import create_app
    from server.db import db
    from server.migrate import upgrade
    from shared.keys import create_private_key

    folder = Path(tempfile.mkdtemp(prefix="optout-bench-"))
    schema = None
    try:
        if backend == "sqlite":
            url = f"sqlite:///{folder / 'optout.db'}"
        else:
            schema = "bench_" + uuid.uuid4().hex[:12]
            _pg_admin(pg_dsn, f"CREATE SCHEMA {schema}")
            url = f"{pg_dsn}?options=-csearch_path%3D{schema}"
        os.environ["OPTOUT_INSTANCE"] = str(folder / "instance")
        create_private_key(folder / "instance" / "signing.key")
        app = create_app({"DATABASE_URL": url, "RATELIMIT_ENABLED": False})
        upgrade(db.obj)
        with app.app_context():
            db.connect(reuse_if_open=True)
            try:
                yield app
            finally:
                if hasattr(db.obj, "close_all"):
                    db.obj.close_all()
                elif not db.is_closed():
                    db.close()
    finally:
        if schema:
            _pg_admin(pg_dsn, f"DROP SCHEMA {schema} CASCADE")
        shutil.rmtree(folder, ignore_errors=True)


def _pg_admin(dsn: str, statement: str):
    import psycopg2

    conn = psycopg2.connect(dsn)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(statement)
            return cur.fetchone() if cur.description else None
    finally:
        conn.close()


# --- bulk build -----------------------------------------------------------------------


def _columns(model, names: list[str]) -> str:
    return ", ".join(f'"{model._meta.fields[n].column_name}"' for n in names)


def _bulk_insert(model, names: list[str], rows: list[tuple]) -> None:
    """Insert rows fast inside the current transaction (blobs as bytes)."""
    from server.db import db, is_postgres

    table, columns = model._meta.table_name, _columns(model, names)
    cursor = db.cursor()
    if not is_postgres():
        marks = ", ".join("?" * len(names))
        cursor.executemany(f'INSERT INTO "{table}" ({columns}) VALUES ({marks})', rows)
        return
    buffer = io.StringIO()
    for row in rows:  # COPY text format; bytea as \x<hex>, the backslash escaped
        buffer.write("\t".join(f"\\\\x{v.hex()}" if isinstance(v, bytes) else str(v) for v in row))
        buffer.write("\n")
    buffer.seek(0)
    cursor.copy_expert(f'COPY "{table}" ({columns}) FROM STDIN', buffer)


def bulk_extend(target: int) -> None:
    """Grow the log to ``target`` entries with valid entries and every complete-subtree hash."""
    from server import auditlog
    from server.db import db
    from server.models import LogEntry, LogHead, LogNode
    from shared import merkle
    from shared.audit_entry import build_entry

    start = auditlog.size()
    reader = auditlog.NodeReader(set(merkle.frontier(start)))
    frontier = {node: reader.get(*node) for node in merkle.frontier(start)}
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    created_at = str(base.replace(tzinfo=None))
    entries, nodes = [], []
    index = start
    while index < target:
        with db.atomic():
            stop = min(target, index + TXN)
            while index < stop:
                data = build_entry(
                    "bench.filler",
                    "user:1",
                    f"item:{index}",
                    base + dt.timedelta(seconds=index),
                    {"n": index},
                )
                leaf = merkle.leaf_hash(data)
                made = merkle.nodes_after_append(index, leaf, lambda lv, i: frontier[(lv, i)])
                for level, at, _ in made[1:]:  # each merge used up a left sibling
                    del frontier[(level - 1, 2 * at)]
                frontier[made[-1][:2]] = made[-1][2]
                entries.append((index, data, leaf, created_at))
                nodes.extend(made)
                index += 1
                if len(entries) == BATCH or index == stop:
                    _bulk_insert(LogEntry, ["index", "entry", "leaf_hash", "created_at"], entries)
                    _bulk_insert(LogNode, ["level", "index", "hash"], nodes)
                    entries, nodes = [], []
            LogHead.update(size=index).where(LogHead.id == 1).execute()
        log(f"  built {index:,} / {target:,} entries")


# --- measurements ---------------------------------------------------------------------


def time_proofs(result: SizeResult, count: int, rng: random.Random) -> None:
    from server import auditlog
    from server.checkpoints import publish
    from shared import merkle

    size = result.size
    cp = publish()
    root = bytes(cp.root_hash)
    assert cp.size == size, (cp.size, size)
    for n in range(count):
        index = rng.randrange(size)
        started = time.perf_counter()
        proof = auditlog.inclusion_proof(index, size)
        result.inclusion_ms.append((time.perf_counter() - started) * 1000)
        if n < CHECKED_PROOFS:
            merkle.verify_inclusion(auditlog.entry_leaf(index), index, size, proof, root)
    for n in range(count):
        old = rng.randrange(1, size) if size > 1 else 1
        started = time.perf_counter()
        proof = auditlog.consistency_proof(old, size)
        result.consistency_ms.append((time.perf_counter() - started) * 1000)
        if n < CHECKED_PROOFS:
            merkle.verify_consistency(old, size, auditlog.root_at(old), root, proof)


def time_verify(result: SizeResult) -> None:
    from server.checkpoints import origin, signer, trusted_verifiers
    from server.log_verify import verify_log

    done, step = [0], max(result.size // 10, 1)

    def progress(count: int) -> None:
        before, done[0] = done[0], done[0] + count
        if before // step != done[0] // step:
            log(f"  verified {done[0]:,} / {result.size:,}")

    started = time.perf_counter()
    report = verify_log(trusted_verifiers(signer().verifier), origin(), progress)
    result.verify_s = time.perf_counter() - started
    if not report.ok or report.size != result.size:
        raise RuntimeError(f"the benchmark log does not verify: {report.problems[:3]}")


def time_appends(result: SizeResult, count: int) -> None:
    from server.audit import record_action
    from server.db import db

    for k in range(count):
        started = time.perf_counter()
        with db.atomic():
            record_action("user:1", "bench.appended", f"request:{k}", details={"n": k})
        result.append_ms.append((time.perf_counter() - started) * 1000)


def run_backend(backend: str, sizes: list[int], args: argparse.Namespace) -> list[SizeResult]:
    rng = random.Random(args.seed)
    results = []
    with instance(backend, args.pg_dsn):
        for size in sizes:
            result = SizeResult(size)
            log(f"{backend}: building the log to {size:,} entries")
            started = time.perf_counter()
            bulk_extend(size)
            result.build_s = time.perf_counter() - started
            log(f"{backend}: {args.proofs} inclusion and consistency proofs at {size:,}")
            time_proofs(result, args.proofs, rng)
            log(f"{backend}: full verify at {size:,}")
            time_verify(result)
            log(f"{backend}: {args.appends} appends on top of {size:,}")
            time_appends(result, args.appends)
            results.append(result)
    return results


# --- report ---------------------------------------------------------------------------


def _proc_field(path: str, key: str) -> str | None:
    """The value of the first ``key: value`` line of a /proc file, if any."""
    with contextlib.suppress(OSError), open(path) as fh:
        for line in fh:
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    return None


def machine() -> list[str]:
    cpu = _proc_field("/proc/cpuinfo", "model name") or platform.processor() or "unknown"
    mem = _proc_field("/proc/meminfo", "MemTotal")
    ram = f"{int(mem.split()[0]) / 2**20:.1f} GiB RAM" if mem else "RAM unknown"
    return [
        f"machine: {os.cpu_count()} CPUs ({cpu}), {ram}",
        f"python {platform.python_version()}, SQLite {sqlite3.sqlite_version}",
    ]


def print_table(backend: str, results: list[SizeResult]) -> None:
    print(f"\n{backend}")
    print(
        "| entries | build s | append/s (1 per txn) | append p50 / p99 ms "
        "| inclusion p50 / p99 ms | consistency p50 / p99 ms | full verify s |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r.size:,} | {r.build_s:.1f} | {r.appends_per_s:,.0f} "
            f"| {median(r.append_ms):.2f} / {p99(r.append_ms):.2f} "
            f"| {median(r.inclusion_ms):.3f} / {p99(r.inclusion_ms):.3f} "
            f"| {median(r.consistency_ms):.3f} / {p99(r.consistency_ms):.3f} "
            f"| {r.verify_s:.1f} |"
        )
    if len(results) < 2:
        return
    small, large = results[0], results[-1]
    for name, attr in (("inclusion", "inclusion_ms"), ("consistency", "consistency_ms")):
        ratio = median(getattr(large, attr)) / median(getattr(small, attr))
        verdict = "yes" if ratio < TARGET_RATIO else "NO"
        print(
            f"{name} proof median at {large.size:,} / at {small.size:,}: {ratio:.2f} "
            f"(< {TARGET_RATIO:g}: {verdict})"
        )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--backends", default="sqlite", help="comma-separated: sqlite, postgresql (default: sqlite)"
    )
    parser.add_argument(
        "--sizes",
        default=DEFAULT_SIZES,
        help=f"comma-separated log sizes, ascending (default: {DEFAULT_SIZES})",
    )
    parser.add_argument(
        "--pg-max-size",
        type=int,
        default=None,
        metavar="N",
        help="on PostgreSQL, skip sizes above N",
    )
    parser.add_argument(
        "--proofs", type=int, default=200, help="proofs of each kind timed per size (default: 200)"
    )
    parser.add_argument(
        "--appends", type=int, default=500, help="real appends timed per size (default: 500)"
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    parser.add_argument(
        "--pg-dsn",
        default=os.environ.get("OPTOUT_TEST_PG", DEFAULT_PG),
        help="PostgreSQL database for the temporary schema "
        f"(default: $OPTOUT_TEST_PG or {DEFAULT_PG})",
    )
    args = parser.parse_args(argv)
    try:
        args.sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error("--sizes must be integers")
    if not args.sizes or args.sizes != sorted(set(args.sizes)) or args.sizes[0] < 2:
        parser.error("--sizes must be distinct, ascending and at least 2")
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if not args.backends or set(args.backends) - {"sqlite", "postgresql"}:
        parser.error("--backends takes sqlite and/or postgresql")
    if args.proofs < 1 or args.appends < 1:
        parser.error("--proofs and --appends must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    lines = machine()
    if "postgresql" in args.backends:
        lines.append(_pg_admin(args.pg_dsn, "SELECT version()")[0].split(" on ")[0])
    print("\n".join(lines))
    print(
        f"{args.proofs} proofs of each kind and {args.appends} appends per size, seed {args.seed}"
    )
    for backend in args.backends:
        sizes = args.sizes
        if backend == "postgresql" and args.pg_max_size:
            sizes = [s for s in sizes if s <= args.pg_max_size]
            print(f"postgresql: sizes limited to {args.pg_max_size:,} by --pg-max-size")
        if not sizes:
            continue
        print_table(backend, run_backend(backend, sizes, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
