"""Benchmark applying an exclusion list to a Parquet dataset.

Generates a dataset (host, owner, name, path, blob_id, content columns; one row per file,
~30 files per repository with skewed sizes, ~3 repositories per owner, rows shuffled,
Zipf-like shared paths, random blob ids) and two lists of rules (10% owner, 50% repository,
25% file, 15% content): a realistic one, where 0.75% of the rules are drawn from the data
so that they match and a few percent of the rows go, and a heavy one (5% drawn, ~20% of the
rows go). Then prints rows/s, from one run, for:

* ``copy``: a plain pyarrow read-and-write of the same data (the floor);
* ``copy-piped``: the same copy with apply's read-ahead and write-behind threads;
* ``apply+load``: what ``optout exclusions apply`` runs, from the saved list to the report:
  ``load_verified`` (read the signed state, check the signature, the body's size and SHA-256,
  expiry, then parse and check the body strictly into columns), the key tables
  (``BatchMatcher``), ``apply_shard`` and the JSON report. This is the headline ratio;
* ``apply``: ``apply_shard`` alone with the list already loaded;
* ``python-set``: a straightforward loop over rows with Python sets (realistic list);
* ``spark``: ``shared.exclusions.spark.apply_exclusions`` in local mode (``--spark-rows``).

copy, copy-piped, apply+load and apply run ``--repeat`` times, interleaved, per list; the
medians of wall and CPU seconds (all threads of the process) are printed, and apply/copy with
and without loading the list. On a shared machine the CPU ratio is the steadier one. Loading
is also broken down once per list, and the strict line-by-line parser
(``format.parse_body``, what loading cost before) is timed once on the realistic list.

    .venv/bin/python bench/exclusions.py                      # 10M rows, 1M rules
    .venv/bin/python bench/exclusions.py --rows 1000000 --rules 100000 --spark-rows 200000
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from shared.exclusions.apply import BatchMatcher, Report, apply_shard  # noqa: E402
from shared.exclusions.format import Matcher, build_body, parse_body  # noqa: E402
from shared.exclusions.manifest import build_manifest, sign_manifest  # noqa: E402
from shared.exclusions.pull import _save, load_verified  # noqa: E402
from shared.note import Checkpoint, Signer, sign_checkpoint  # noqa: E402

HOSTS = np.array(["github.com", "gitlab.com", "bitbucket.org"])
CODEC = "snappy"


def _strings(values: list[str], indices: np.ndarray) -> pa.Array:
    return pa.DictionaryArray.from_arrays(
        pa.array(indices, pa.int32()), pa.array(values)
    ).dictionary_decode()


def _hex(rng: np.random.Generator, n: int) -> pa.Array:
    data = rng.bytes(20 * n).hex().encode()
    offsets = np.arange(0, 40 * n + 1, 40, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def make_dataset(path: Path, rows: int, seed: int = 1) -> None:
    """One row per file: ~30 files per repository on average, ~3 repositories per owner.

    Repositories are drawn skewed (a few large ones, a long tail) and rows are shuffled, the
    worst case for per-batch distinct counts (a dataset grouped by repository is easier).
    """
    rng = np.random.default_rng(seed)
    n_repos = max(rows // 30, 10)
    n_owners = max(n_repos // 3, 5)
    owners = [f"User{i}" if i % 7 == 0 else f"user{i}" for i in range(n_owners)]
    names = [f"project-{i}" for i in range(5000)] + ["dotfiles", "blog", "site", "utils"]
    repo_owner = rng.integers(0, n_owners, n_repos)
    repo_name = np.minimum(rng.zipf(1.3, n_repos) - 1, len(names) - 1)
    repo_host = rng.choice(3, n_repos, p=[0.85, 0.1, 0.05])
    paths = [f"src/pkg{i % 97}/mod{i}.py" for i in range(20_000)] + ["README.md", "setup.py"]
    chunk = 1_000_000
    writer = None
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        repo = (n_repos * rng.random(n) ** 2).astype(np.int64)
        table = pa.table(
            {
                "host": _strings(list(HOSTS), repo_host[repo]),
                "owner": _strings(owners, repo_owner[repo]),
                "name": _strings(names, repo_name[repo]),
                "path": _strings(paths, np.minimum(rng.zipf(1.1, n) - 1, len(paths) - 1)),
                "blob_id": _hex(rng, n),
                "content": _strings(
                    [f"print({i})\n" * 8 for i in range(1000)], rng.integers(0, 1000, n)
                ),
            }
        )
        writer = writer or pq.ParquetWriter(path, table.schema, compression=CODEC)
        writer.write_table(table)
    if writer:
        writer.close()


def make_rules(path: Path, count: int, drawn: float = 0.0075, seed: int = 2) -> list[dict]:
    """``count`` rules; a share ``drawn`` of them names rows of the data (so they match)."""
    rng = np.random.default_rng(seed)
    sample = pq.ParquetFile(path).read_row_group(0).slice(0, max(count, 1000)).to_pylist()
    rules: dict[str, dict] = {}
    kinds = rng.choice(4, count, p=[0.10, 0.50, 0.25, 0.15])
    for i, kind in enumerate(kinds):
        # Some are drawn from the data (so they match); the rest name code elsewhere.
        row = sample[rng.integers(len(sample))] if rng.random() < drawn else None
        host = row["host"] if row else "github.com"
        owner = (row["owner"] if row else f"ghost{i}").lower()
        name = (row["name"] if row else f"r{i}").lower()
        if kind == 0:
            rule = {"kind": "owner", "host": host, "owner": owner}
        elif kind == 1:
            rule = {"kind": "repository", "host": host, "owner": owner, "name": name}
        elif kind == 2:
            rule = {
                "kind": "file",
                "host": host,
                "owner": owner,
                "name": name,
                "path": row["path"] if row else f"p{i}.py",
            }
        else:
            rule = {
                "kind": "content",
                "swhid": "swh:1:cnt:" + (row["blob_id"] if row else f"{i:040x}"),
            }
        rules[str(sorted(rule.items()))] = rule
    return list(rules.values())


def timed(label: str, rows: int, fn) -> float:
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    print(
        f"{label:12s} {rows:>12,} rows {seconds:8.2f} s {rows / seconds:>14,.0f} rows/s", flush=True
    )
    return seconds


def measured(fn) -> tuple[float, float]:
    """Wall and CPU seconds (CPU of every thread of this process) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def signed_state(root: Path, body: bytes) -> str:
    """Save ``body`` as a verified list in a pull state directory; return the verifier key."""
    key, log = (Signer(f"bench.example/{n}", Ed25519PrivateKey.generate()) for n in ("x", "log"))
    now = datetime.now(UTC).replace(microsecond=0)
    checkpoint = sign_checkpoint(Checkpoint("bench.example/log", 1, b"\x01" * 32), [log])
    manifest = build_manifest(body, version=1, issued=now, expires=now + timedelta(days=1),
                              prev_note=None, checkpoint=checkpoint)
    _save(root, manifest, sign_manifest(manifest, [key]), body, None)
    return str(key.verifier)


def apply_with_load(state: Path, trust: str, data: Path, target: Path) -> Report:
    """What the CLI runs: load and check the saved list, build the tables, apply, report."""
    manifest, matcher = load_verified(state, [trust])
    report = Report(list_version=manifest.version)
    apply_shard(BatchMatcher(matcher), data, target, report)
    report.as_json(matcher)
    return report


def load_breakdown(state: Path, trust: str) -> None:
    """Loading once, in its parts (the ratios above include all of them)."""
    start = time.perf_counter()
    with mock.patch("shared.exclusions.pull.Matcher", lambda body, salt: (body, salt)):
        _, (body, _) = load_verified(state, [trust])
    verified = time.perf_counter()
    matcher = Matcher(body)
    parsed = time.perf_counter()
    BatchMatcher(matcher)
    indexed = time.perf_counter()
    print(f"{'load list':12s} {indexed - start:29.2f} s (read, signature, size and SHA-256 "
          f"{verified - start:.2f} s; parse and check {parsed - verified:.2f} s; key tables "
          f"{indexed - parsed:.2f} s)", flush=True)


def compare(data: Path, tmp: Path, state: Path, trust: str, rows: int, repeat: int) -> Report:
    """Run copy, copy-piped, apply+load and apply ``repeat`` times, interleaved; print medians."""
    runs: dict[str, list[tuple[float, float]]] = {
        "copy": [], "copy-piped": [], "apply+load": [], "apply": []}
    _, matcher = load_verified(state, [trust])
    batches = BatchMatcher(matcher)
    report = Report()
    for i in range(repeat):
        report = Report()
        runs["copy"].append(measured(lambda: copy(data, tmp / "copy.parquet")))
        runs["copy-piped"].append(measured(lambda: copy_pipelined(data, tmp / "c2.parquet")))
        runs["apply+load"].append(measured(
            lambda: apply_with_load(state, trust, data, tmp / "out" / "data.parquet")))
        runs["apply"].append(measured(
            lambda r=report: apply_shard(batches, data, tmp / "out" / "data.parquet", r)))
        print(f"  run {i + 1}: " + ", ".join(
            f"{k} {v[-1][0]:.2f} s ({v[-1][1]:.2f} s CPU)" for k, v in runs.items()),
            f"load {os.getloadavg()[0]:.1f}", flush=True)
    median = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v))
              for k, v in runs.items()}
    for label, (wall, cpu) in median.items():
        print(f"{label:12s} {rows:>12,} rows {wall:8.2f} s {rows / wall:>14,.0f} rows/s "
              f"(median of {repeat}; CPU {cpu:.2f} s)", flush=True)
    (copy_wall, copy_cpu), (piped_wall, _) = median["copy"], median["copy-piped"]
    for label in ("apply+load", "apply"):
        wall, cpu = median[label]
        print(f"{label + '/copy':16s} {wall / copy_wall:.2f}x wall"
              f"{' (target <= 1.3x)' if label == 'apply+load' else ''}, {cpu / copy_cpu:.2f}x "
              f"CPU; {label}/copy-piped {wall / piped_wall:.2f}x", flush=True)
    removed = rows - report.shards[0].rows_out
    print(f"removed {removed:,} rows ({removed / rows:.1%}) by {len(report.removed):,} rules",
          flush=True)
    return report


def copy(source: Path, target: Path) -> None:
    reader = pq.ParquetFile(source)
    with pq.ParquetWriter(target, reader.schema_arrow, compression=CODEC) as writer:
        for batch in reader.iter_batches(batch_size=1 << 20):
            writer.write_batch(batch)


def copy_pipelined(source: Path, target: Path) -> None:
    """The copy with apply's threading (read ahead, write behind): the fair floor."""
    from concurrent.futures import ThreadPoolExecutor

    from shared.exclusions.apply import _prefetched

    reader = pq.ParquetFile(source)
    with pq.ParquetWriter(target, reader.schema_arrow, compression=CODEC) as writer, \
            ThreadPoolExecutor(max_workers=1) as pool:
        pending = None
        for batch in _prefetched(reader.iter_batches(batch_size=1 << 19)):
            if pending is not None:
                pending.result()
            pending = pool.submit(writer.write_batch, batch)
        if pending is not None:
            pending.result()


def python_loop(source: Path, target: Path, matcher: Matcher) -> None:
    owners = {(r["host"], r["owner"]) for r in matcher.rules if r["kind"] == "owner"}
    repos = {(r["host"], r["owner"], r["name"]) for r in matcher.rules if r["kind"] == "repository"}
    files = {
        (r["host"], r["owner"], r["name"], r["path"]) for r in matcher.rules if r["kind"] == "file"
    }
    blobs = {r["swhid"][10:] for r in matcher.rules if r["kind"] == "content"}
    reader = pq.ParquetFile(source)
    with pq.ParquetWriter(target, reader.schema_arrow, compression=CODEC) as writer:
        for batch in reader.iter_batches(batch_size=1 << 20):
            cols = [
                batch.column(c).to_pylist() for c in ("host", "owner", "name", "path", "blob_id")
            ]
            keep = []
            for host, owner, name, path, blob in zip(*cols, strict=True):
                host, owner, name = host.lower(), owner.lower(), name.lower()
                keep.append(
                    (host, owner) not in owners
                    and (host, owner, name) not in repos
                    and (host, owner, name, path) not in files
                    and blob.lower() not in blobs
                )
            writer.write_batch(batch.filter(pa.array(keep)))


def spark_run(source: Path, target: Path, matcher: Matcher, rows: int) -> None:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    from shared.exclusions.spark import apply_exclusions

    start = time.perf_counter()
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("optout-bench")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "4g")
        .config("spark.sql.autoBroadcastJoinThreshold", "-1")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    print(f"{'spark start':12s} {time.perf_counter() - start:29.2f} s", flush=True)
    subset = target.parent / "spark-input.parquet"
    pq.write_table(
        pq.ParquetFile(source).read_row_group(0).slice(0, rows), subset, compression=CODEC
    )
    try:
        timed(
            "spark",
            rows,
            lambda: (
                apply_exclusions(spark.read.parquet(str(subset)), matcher)
                .write.mode("overwrite")
                .parquet(str(target))
            ),
        )
    finally:
        spark.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--rules", type=int, default=1_000_000)
    parser.add_argument(
        "--python-rows", type=int, default=None, help="rows for the Python loop (default: all)"
    )
    parser.add_argument("--spark-rows", type=int, default=1_000_000, help="0 to skip Spark")
    parser.add_argument("--repeat", type=int, default=3, help="runs of copy and apply per list")
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--no-strict-parse", dest="strict_parse", action="store_false",
                        help="skip timing format.parse_body (the line-by-line parser) once")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        tmp = Path(tmp)
        data = tmp / "data.parquet"
        start = time.perf_counter()
        make_dataset(data, args.rows)
        print(f"generated {args.rows:,} rows ({data.stat().st_size / 2**20:,.0f} MiB) in "
              f"{time.perf_counter() - start:.1f} s", flush=True)
        (tmp / "out").mkdir()
        for case, drawn in (("heavy", 0.05), ("realistic", 0.0075)):
            rules = make_rules(data, args.rules, drawn)
            body = build_body(rules)
            print(f"\n{case} list: {len(rules):,} rules ({len(body) / 2**20:,.0f} MiB), "
                  f"{drawn:.2%} drawn from the data", flush=True)
            state = tmp / f"state-{case}"
            trust = signed_state(state, body)
            load_breakdown(state, trust)
            if case == "realistic" and args.strict_parse:
                start = time.perf_counter()
                parse_body(body)
                seconds = time.perf_counter() - start
                print(f"{'strict parse':12s} {seconds:29.2f} s ({seconds / len(rules) * 1e6:.1f} "
                      f"µs per rule; format.parse_body, the line-by-line parser)", flush=True)
            compare(data, tmp, state, trust, args.rows, args.repeat)
            _, matcher = load_verified(state, [trust])
        py_rows = args.python_rows or args.rows
        py_data = data
        if py_rows < args.rows:
            py_data = tmp / "py.parquet"
            pq.write_table(pq.read_table(data).slice(0, py_rows), py_data, compression=CODEC)
        timed("python-set", py_rows, lambda: python_loop(py_data, tmp / "py-out.parquet", matcher))
        check = pq.read_table(tmp / "out" / "data.parquet", columns=["blob_id"])
        if py_rows == args.rows:
            other = pq.read_table(tmp / "py-out.parquet", columns=["blob_id"])
            assert len(check) == len(other), "apply and the Python loop disagree"
            assert pc.all(pc.equal(check["blob_id"], other["blob_id"])).as_py() is not False
        if args.spark_rows:
            spark_run(data, tmp / "spark-out", matcher, min(args.spark_rows, args.rows))


if __name__ == "__main__":
    main()
