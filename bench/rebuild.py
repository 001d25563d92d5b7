"""Benchmark ``optout rebuild`` on a generated corpus in The Stack's shape.

Generates a Parquet export (``repo_name``, ``path``, ``content``; ~20 files per repository,
Python/JavaScript/Go/Java/C/Markdown by extension, a LICENSE per repository drawn from MIT,
Apache-2.0, a GPL notice or none) with planted exact copies (5%), near-copies (10%, a few
lines changed), vendored files, binary files and secrets, plus an exclusion list (repository
and owner rules, 2% of repositories). Then, in one run, it prints:

* files/s of the whole rebuild (``shared.rebuild.rebuild``: annotate, cluster, exclusions,
  select, PII redaction, shards), and each stage's share of the time;
* files/s of a plain pyarrow read and write of the same rows (the floor), and the ratio;
* MinHash signatures alone on a sample of contents: the vectorised ``minhash.signatures``
  against the previous implementation (``datasketch.MinHash.bulk`` over CRC-32 shingle hashes,
  same permutations) in the same run, as a ratio;
* near-dedup recall and precision on a sample of contents, against the exact Jaccard
  similarity of their word 5-gram sets (pairs of distinct contents of one language with
  Jaccard >= 0.7 are the truth), for three predictions: pairs placed in one cluster (what the
  release does: connected components), pairs whose signatures agree on >= 70% of the
  permutations (the check every LSH candidate passes before it is linked), and each
  near-duplicate dropped against its cluster's released copy.

    .venv/bin/python bench/rebuild.py                  # 200k files
    .venv/bin/python bench/rebuild.py --files 20000    # a quick look
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
import zlib
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared.exclusions.format import Matcher, build_body, owner_rule, repository_rule  # noqa: E402
from shared.rebuild import ExclusionList, RebuildConfig, discover, rebuild  # noqa: E402
from shared.rebuild.dedup import shingles, signatures  # noqa: E402
from shared.rebuild.identity import blob_sha1  # noqa: E402
from shared.rebuild.minhash import SCHEME  # noqa: E402
from tests.shared.rebuild_corpus import GPL_NOTICE, MIT  # noqa: E402

EXTENSIONS = {".py": "#", ".js": "//", ".go": "//", ".java": "//", ".c": "//", ".md": ""}
APACHE = ("Licensed under the Apache License, Version 2.0 (the \"License\");\n"
          "you may not use this file except in compliance with the License.\n")


def _vocabulary(rng: np.random.Generator, size: int = 60_000) -> np.ndarray:
    letters = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz_", dtype=np.uint8)
    lengths = rng.integers(3, 12, size)
    return np.array([bytes(letters[rng.integers(0, len(letters), n)]).decode()
                     for n in lengths])


def _source(rng, words, comment: str, lines: int) -> str:
    """A file of statement-like lines; identifiers drawn from a large vocabulary."""
    picks = words[rng.integers(0, len(words), size=(lines, 5))]
    body = [f"{a} = {b}({c}, {d}) + {e}" for a, b, c, d, e in picks.tolist()]
    if comment:
        body.insert(0, f"{comment} module {picks[0][0]}")
    return "\n".join(body) + "\n"


def _mutate(rng, text: str, words) -> str:
    """A near-copy: change ~4% of the lines (Jaccard of 5-grams stays ~0.8)."""
    lines = text.split("\n")
    for i in rng.integers(0, max(1, len(lines) - 1), size=max(1, len(lines) // 25)):
        lines[i] = f"{words[rng.integers(0, len(words))]} = {words[rng.integers(0, len(words))]}"
    return "\n".join(lines)


def make_corpus(path: Path, files: int, seed: int = 7) -> tuple[int, list[str]]:
    rng = np.random.default_rng(seed)
    words = _vocabulary(rng)
    repos = max(1, files // 20)
    owners = [f"owner{i // 3}" for i in range(repos)]
    repo_names = [f"{owners[i]}/repo{i}" for i in range(repos)]
    licenses = [MIT, APACHE, GPL_NOTICE, None]
    names, paths, contents = [], [], []
    originals: list[str] = []
    for r, repo in enumerate(repo_names):
        license_text = licenses[rng.integers(0, 4)] if r % 7 else MIT
        if license_text is not None:
            names.append(repo)
            paths.append("LICENSE")
            contents.append(license_text)
    while len(paths) < files:
        repo = repo_names[int(rng.integers(0, repos))]
        ext = list(EXTENSIONS)[int(rng.integers(0, len(EXTENSIONS)))]
        roll = rng.random()
        if roll < 0.05 and originals:
            text = originals[int(rng.integers(0, len(originals)))]
        elif roll < 0.15 and originals:
            text = _mutate(rng, originals[int(rng.integers(0, len(originals)))], words)
        else:
            text = _source(rng, words, EXTENSIONS[ext], int(rng.integers(10, 120)))
            if len(originals) < 20_000:
                originals.append(text)
        folder = "node_modules/dep/" if roll > 0.99 else "src/"
        if 0.985 < roll <= 0.99:
            text = "\x00binary\x00" + text
        if 0.98 < roll <= 0.985:
            text = f'AWS_ACCESS_KEY_ID = "AKIA{rng.integers(10**15, 10**16)}QQ"\n' + text
        names.append(repo)
        paths.append(f"{folder}f{len(paths)}{ext}")
        contents.append(text)
    table = pa.table({"repo_name": names, "path": paths, "content": contents})
    pq.write_table(table, path, row_group_size=50_000, compression="zstd")
    return len(table), repo_names


def exclusion_list(repo_names: list[str], rng: np.random.Generator) -> ExclusionList:
    chosen = rng.choice(len(repo_names), size=max(1, len(repo_names) // 50), replace=False)
    rules = [repository_rule("github.com", *repo_names[i].split("/")) for i in chosen]
    rules += [owner_rule("github.com", f"owner{i}") for i in range(0, 40, 7)]
    body = build_body(rules)
    return ExclusionList(Matcher(body), 1, "0" * 64, "0" * 64)


def floor(source: Path, target: Path) -> float:
    start = time.perf_counter()
    pq.write_table(pq.read_table(source), target, compression="zstd")
    return time.perf_counter() - start


def minhash_speed(corpus: Path, count: int, config: RebuildConfig, seed: int) -> dict:
    """files/s of the previous per-document datasketch path and of the vectorised one."""
    from datasketch import MinHash

    column = pq.read_table(corpus, columns=["content"])["content"]
    rows = np.random.default_rng(seed).choice(len(column), min(count, len(column)), replace=False)
    contents = [t.encode() for t in column.take(pa.array(np.sort(rows))).to_pylist()]
    start = time.perf_counter()
    sets = [shingles(data, config.ngram) for data in contents]
    MinHash.bulk([s for s in sets if s], num_perm=config.num_perm, seed=config.minhash_seed,
                 scheme=SCHEME, hashfunc=zlib.crc32)
    before = time.perf_counter() - start
    start = time.perf_counter()
    signatures(contents, config)
    after = time.perf_counter() - start
    return {"files": len(contents), "datasketch": len(contents) / before,
            "vectorised": len(contents) / after, "ratio": before / after}


def _rate(truth: set, predicted: set) -> tuple[float, float]:
    hits = len(truth & predicted)
    return (hits / len(truth) if truth else 1.0, hits / len(predicted) if predicted else 1.0)


def near_dedup_quality(out: Path, corpus: Path, sample: int, seed: int) -> dict:
    """Predicted pairs vs pairs with exact Jaccard >= 0.7, over a sample of contents."""
    clusters = pq.read_table(out.with_name(out.name + ".private") / "clusters.parquet",
                             columns=["blob_id", "cluster_id", "language", "status"]).to_pylist()
    cluster_of = {r["blob_id"]: (r["cluster_id"], r["language"]) for r in clusters}
    languages = defaultdict(set)  # a content copied under two extensions has two languages
    for row in clusters:
        languages[row["blob_id"]].add(row["language"])
    released = {r["cluster_id"]: r["blob_id"] for r in clusters if r["status"] == "released"}
    near = {r["blob_id"] for r in clusters if r["status"] == "near_duplicate"}
    contents = {}
    for text in pq.read_table(corpus, columns=["content"])["content"].to_pylist():
        data = text.encode()
        blob = blob_sha1(data)
        if blob in cluster_of:
            contents.setdefault(blob, data)
    rng = np.random.default_rng(seed)
    by_cluster = defaultdict(list)
    for blob in sorted(contents):
        by_cluster[cluster_of[blob][0]].append(blob)
    multi = [c for c in sorted(by_cluster) if len(by_cluster[c]) > 1]
    picked = [b for c in rng.permutation(multi)[: sample // 4] for b in by_cluster[c]]
    rest = sorted(set(contents) - set(picked))
    picked += list(rng.choice(rest, size=min(len(rest), sample - len(picked)), replace=False))
    sets = {b: shingles(contents[b], 5) for b in picked}
    index = defaultdict(list)
    for blob, grams in sets.items():
        for gram in grams:
            index[gram].append(blob)
    shared: dict[tuple[str, str], int] = defaultdict(int)
    for blobs in index.values():
        for a, b in itertools.combinations(sorted(blobs), 2):
            shared[(a, b)] += 1
    jaccard = {pair: n / (len(sets[pair[0]]) + len(sets[pair[1]]) - n)
               for pair, n in shared.items() if sets[pair[0]] and sets[pair[1]]}
    # Pairs LSH compares: one language in common (it buckets per language).
    comparable = {(a, b) for a, b in jaccard if languages[a] & languages[b]}
    truth = {pair for pair in comparable if jaccard[pair] >= 0.7}
    predicted = {(a, b) for members in by_cluster.values()
                 for a, b in itertools.combinations(sorted(set(members) & set(sets)), 2)}
    config = RebuildConfig()
    sample_blobs = sorted(b for b in sets if sets[b])
    sig = dict(zip(sample_blobs, (np.frombuffer(s, "<u4") for s in signatures(
        [contents[b] for b in sample_blobs], config)), strict=True))
    verified = {(a, b) for a, b in comparable  # pairs sharing no shingle estimate to ~0
                if np.mean(sig[a] == sig[b]) >= config.jaccard_threshold}
    to_keeper = [jaccard.get(tuple(sorted((blob, released[cluster_of[blob][0]]))), 0.0)
                 for blob in sample_blobs if blob in near
                 and released.get(cluster_of[blob][0]) in sets]
    recall, precision = _rate(truth, predicted)
    edge_recall, edge_precision = _rate(truth, verified)
    return {"sample": len(picked), "true_pairs": len(truth), "predicted_pairs": len(predicted),
            "recall": recall, "precision": precision,
            "transitive_only": len(predicted - verified),
            "verified_pairs": len(verified), "edge_recall": edge_recall,
            "edge_precision": edge_precision, "dropped": len(to_keeper),
            "dropped_ok": sum(1 for j in to_keeper if j >= 0.7),
            "dropped_min": min(to_keeper, default=1.0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=200_000)
    parser.add_argument("--sample", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=1,
                        help="signature processes (1, the CLI's default, was fastest here)")
    parser.add_argument("--minhash-sample", type=int, default=5000)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
    with tempfile.TemporaryDirectory(prefix="optout-bench-rebuild-") as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        rows, repo_names = make_corpus(root / "stack.parquet", args.files, args.seed)
        print(f"corpus: {rows} files, {len(repo_names)} repositories, "
              f"{(root / 'stack.parquet').stat().st_size / 1e6:.0f} MB Parquet, generated in "
              f"{time.perf_counter() - start:.1f} s")
        exclusions = exclusion_list(repo_names, np.random.default_rng(args.seed))
        copy_seconds = floor(root / "stack.parquet", root / "copy.parquet")
        start = time.perf_counter()
        result = rebuild(discover([root / "stack.parquet"]), root / "release", "bench",
                         exclusions, config=RebuildConfig(), workers=args.workers)
        wall = time.perf_counter() - start
        totals = result.manifest["totals"]
        print(f"rebuild: {rows / wall:,.0f} files/s ({wall:.1f} s; released "
              f"{totals['released_files']} of {totals['input_files']}; "
              f"floor (pyarrow read+write) {rows / copy_seconds:,.0f} files/s, "
              f"ratio {copy_seconds / wall:.3f})")
        staged = sum(result.seconds.values())
        for stage, seconds in sorted(result.seconds.items(), key=lambda item: -item[1]):
            print(f"  {stage:<14} {seconds:7.1f} s  {100 * seconds / staged:5.1f}%")
        print(f"  filters: {dict(sorted(result.drops.items()))}")
        speed = minhash_speed(root / "stack.parquet", args.minhash_sample, RebuildConfig(),
                              args.seed)
        print(f"MinHash alone on {speed['files']} random files, one process: datasketch "
              f"MinHash.bulk {speed['datasketch']:,.0f} files/s, vectorised "
              f"{speed['vectorised']:,.0f} files/s, ratio {speed['ratio']:.1f}")
        quality = near_dedup_quality(root / "release", root / "stack.parquet", args.sample,
                                     args.seed)
        print(f"near-dedup on {quality['sample']} contents: recall {quality['recall']:.3f}, "
              f"precision {quality['precision']:.3f} ({quality['true_pairs']} pairs with "
              f"Jaccard >= 0.7, {quality['predicted_pairs']} pairs clustered, "
              f"{quality['transitive_only']} of them only through other members)")
        print(f"  signature check alone (estimated Jaccard >= 0.7): recall "
              f"{quality['edge_recall']:.3f}, precision {quality['edge_precision']:.3f} "
              f"({quality['verified_pairs']} pairs)")
        print(f"  near-duplicates dropped vs their released copy: {quality['dropped_ok']} of "
              f"{quality['dropped']} with exact Jaccard >= 0.7 (lowest "
              f"{quality['dropped_min']:.3f})")
        print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
