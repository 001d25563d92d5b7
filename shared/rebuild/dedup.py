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
import itertools
import multiprocessing
import re
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from datasketch import MinHashLSH

from shared.rebuild import minhash
from shared.rebuild.config import RebuildConfig

_NON_WORD = re.compile(rb"[^A-Za-z0-9_]+")
LICENSE_RANK = {"permissive": 0, "no_license": 1}
BATCH = 2048
SCHEME = minhash.SCHEME
SHINGLE_HASH = minhash.SHINGLE_HASH


def shingles(data: bytes, n: int) -> set[bytes]:
    """The word n-grams of a content, tokenized by the pinned tokenizer (``TOKENIZER``)."""
    tokens = [t for t in _NON_WORD.split(data) if t]
    if len(tokens) < n:
        return set()
    return {b" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}


def signatures(contents: Iterable[bytes], config: RebuildConfig,
               progress: Callable[[int], object] = lambda n: None,
               workers: int = 1) -> list[bytes | None]:
    """MinHash signatures (num_perm uint32 values as bytes), None when too short to shingle.

    Computed by ``minhash.signatures`` (datasketch's affine32 sketch, vectorised).
    ``workers`` > 1 computes batches in that many forked processes; the result is the same.
    """
    batches = list(_batched(contents, BATCH))
    args = (config.ngram, config.num_perm, config.minhash_seed)
    out: list[bytes | None] = []
    if workers > 1 and len(batches) > 1:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            for batch, result in zip(batches, pool.map(minhash.signatures, batches,
                                                       *(itertools.repeat(a) for a in args)),
                                     strict=True):
                out.extend(result)
                progress(len(batch))
        return out
    for batch in batches:
        out.extend(minhash.signatures(batch, *args))
        progress(len(batch))
    return out


def _batched(items: Iterable[bytes], size: int) -> Iterable[list[bytes]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


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
    """Map each blob id to its cluster id; blobs without near-duplicates map to themselves.

    The buckets are exactly ``datasketch.MinHashLSH``'s: its (b, r) for the threshold, band
    ``i`` being hash values ``[i*r, (i+1)*r)``. They are found for all signatures of a
    language at once with ``numpy.unique`` rather than one ``insert`` at a time, which
    FIELD-NOTES measured at ~12k/s and which was most of this stage's time here.
    """
    union = _UnionFind()
    bands, rows = lsh_parameters(config)
    need = int(np.ceil(config.jaccard_threshold * config.num_perm))
    for language in sorted(by_language):
        items = sorted(by_language[language])
        blobs = [blob for blob, _ in items]
        for blob in blobs:
            union.find(blob)
        matrix = np.frombuffer(b"".join(sig for _, sig in items), dtype=np.uint32).reshape(
            len(items), config.num_perm)
        for band in range(bands):
            block = np.ascontiguousarray(matrix[:, band * rows:(band + 1) * rows])
            keys = block.view(np.dtype((np.void, block.itemsize * rows))).ravel()
            _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
            anchors = first[inverse.ravel()]  # the bucket's first (smallest) blob
            members = np.flatnonzero(anchors != np.arange(len(items)))
            for chunk in range(0, len(members), 4096):
                part = members[chunk:chunk + 4096]
                agree = np.count_nonzero(matrix[part] == matrix[anchors[part]], axis=1)
                for member in part[agree >= need].tolist():
                    union.union(blobs[anchors[member]], blobs[member])
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
    digest = hashlib.sha256(f"{config.tokenizer}:{SCHEME}:{SHINGLE_HASH}:{config.ngram}:"
                            f"{config.num_perm}:"
                            f"{config.jaccard_threshold!r}:{config.minhash_seed}:"
                            f"{config.near_dedup}\n".encode())
    for language, blob in sorted(pairs):
        digest.update(f"{language}\x00{blob}\n".encode())
    return digest.hexdigest()
