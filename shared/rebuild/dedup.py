"""Deduplication: exact by blob id, near-duplicates by MinHash LSH, and which copy is kept.

**Clusters.** Files with the same blob id are one content. Contents are near-duplicates when
MinHash LSH (datasketch; word 5-grams of the pinned tokenizer, 256 permutations, Jaccard 0.7,
LSH bands and rows chosen by datasketch for that threshold) puts them in a bucket *and* their
signatures agree on at least the threshold share of permutations (the estimated Jaccard), checked
against the first content of the bucket. Buckets are per language. Clusters are the connected
components; a cluster's id is the smallest blob id in it, so it does not depend on the order
of the inputs. Contents with fewer tokens than one shingle are only deduplicated exactly.

**Ranking.** Within a cluster every copy (repository and path) is ranked, best first, by:
license (permissive before no license), stars (more first, when the input gives them), the
repository's creation (older first: the original before its forks and copies; a git
checkout's root commit time), then host, owner, name and path in byte order. The released
copy is the best-ranked copy that is not excluded.

Clusters are computed before the exclusion list is applied, over every file that passes the
content and license stages, and cached by that set of contents: a new opt-out changes
neither, so the next rebuild reuses the clusters and promotes the next copy of each cluster
that lost its released copy, without recomputing a signature.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from datasketch import LeanMinHash, MinHash, MinHashLSH

from shared.rebuild.config import RebuildConfig

_NON_WORD = re.compile(rb"[^A-Za-z0-9_]+")
LICENSE_RANK = {"permissive": 0, "no_license": 1}
BATCH = 2048
SCHEME = "affine32"  # datasketch's permutation scheme, pinned: signatures are cached


def shingles(data: bytes, n: int) -> set[bytes]:
    """The word n-grams of a content, tokenized by the pinned tokenizer (``TOKENIZER``)."""
    tokens = [t for t in _NON_WORD.split(data) if t]
    if len(tokens) < n:
        return set()
    return {b" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}


def signatures(contents: Iterable[bytes], config: RebuildConfig,
               progress: Callable[[int], object] = lambda n: None) -> list[bytes | None]:
    """MinHash signatures (num_perm uint32 values as bytes), None when too short to shingle."""
    out: list[bytes | None] = []
    batch: list[set[bytes]] = []

    def flush() -> None:
        wanted = [s for s in batch if s]
        hashes = iter(MinHash.bulk(wanted, num_perm=config.num_perm, seed=config.minhash_seed,
                                   scheme=SCHEME)
                      if wanted else [])
        for item in batch:
            out.append(next(hashes).hashvalues.astype(np.uint32).tobytes() if item else None)
        progress(len(batch))
        batch.clear()

    for data in contents:
        batch.append(shingles(data, config.ngram))
        if len(batch) >= BATCH:
            flush()
    flush()
    return out


def lsh_parameters(config: RebuildConfig) -> tuple[int, int]:
    """(bands, rows) that datasketch picks for the threshold and permutations."""
    lsh = MinHashLSH(threshold=config.jaccard_threshold, num_perm=config.num_perm)
    return lsh.b, lsh.r


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, item: str) -> str:
        parent = self.parent.setdefault(item, item)
        if parent != item:
            parent = self.parent[item] = self.find(parent)
        return parent

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:  # the smaller id becomes the root: cluster ids are order-independent
            self.parent[max(ra, rb)] = min(ra, rb)


def near_clusters(by_language: dict[str, list[tuple[str, bytes]]], config: RebuildConfig,
                  progress: Callable[[int], object] = lambda n: None) -> dict[str, str]:
    """Map each blob id to its cluster id; blobs without near-duplicates map to themselves."""
    union = _UnionFind()
    need = int(np.ceil(config.jaccard_threshold * config.num_perm))
    for language in sorted(by_language):
        items = sorted(by_language[language])
        lsh = MinHashLSH(threshold=config.jaccard_threshold, num_perm=config.num_perm)
        values = {}
        for blob, signature in items:
            union.find(blob)
            values[blob] = np.frombuffer(signature, dtype=np.uint32)
            lsh.insert(blob, LeanMinHash(seed=config.minhash_seed, hashvalues=values[blob],
                                         scheme=SCHEME), check_duplication=False)
        for table in lsh.hashtables:
            for bucket in table.keys():  # noqa: SIM118 (a storage, not a dict)
                members = sorted(table.get(bucket))
                if len(members) < 2:
                    continue
                anchor = values[members[0]]
                for other in members[1:]:
                    if int(np.count_nonzero(anchor == values[other])) >= need:
                        union.union(members[0], other)
        progress(len(items))
    return {blob: union.find(blob) for blob in union.parent}


def rank_order(table: pa.Table) -> np.ndarray:
    """Row indices of ``table`` sorted by (cluster_id, ranking above)."""
    license_rank = pc.fill_null(pc.index_in(table["license_type"],
                                            pa.array(list(LICENSE_RANK))), 9)
    stars = pc.negate(pc.fill_null(table["stars"], 0))
    created = pc.fill_null(table["created"], 2**62)
    ranked = pa.table({
        "cluster_id": table["cluster_id"], "l": license_rank, "s": stars, "c": created,
        "host": table["host"], "owner": table["owner"], "name": table["name"],
        "path": table["path"],
    })
    keys = [(name, "ascending") for name in ranked.column_names]
    return pc.sort_indices(ranked, sort_keys=keys).to_numpy()


def select(table: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For rows with a ``cluster_id`` (none excluded): (kept mask, rank in cluster, kept row).

    ``kept row`` is, for every row, the index of its cluster's released row.
    """
    n = len(table)
    order = rank_order(table)
    clusters = table["cluster_id"].take(pa.array(order)).to_numpy(zero_copy_only=False)
    first = np.ones(n, dtype=bool)
    if n > 1:
        first[1:] = clusters[1:] != clusters[:-1]
    starts = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    kept = np.zeros(n, dtype=bool)
    kept[order[first]] = True
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - starts
    keeper = np.empty(n, dtype=np.int64)
    keeper[order] = order[starts]
    return kept, rank, keeper


def cluster_key(pairs: list[tuple[str, str]], config: RebuildConfig) -> str:
    """Cache key of a clustering: the sorted (language, blob id) set and the dedup settings."""
    digest = hashlib.sha256(f"{config.tokenizer}:{SCHEME}:{config.ngram}:{config.num_perm}:"
                            f"{config.jaccard_threshold!r}:{config.minhash_seed}:"
                            f"{config.near_dedup}\n".encode())
    for language, blob in sorted(pairs):
        digest.update(f"{language}\x00{blob}\n".encode())
    return digest.hexdigest()
