"""MinHash signatures of many contents at once, in numpy.

Same sketch as ``datasketch.MinHash`` with ``scheme="affine32"``: the permutations ``(a, b)``
are datasketch's own for the seed, every 32-bit shingle hash ``h`` is pre-mixed with the
MurmurHash3 finalizer and permuted as ``a * h + b`` modulo 2**32, and a signature holds the
minimum per permutation. So ``datasketch.MinHashLSH`` banding applies unchanged, and a test
checks equality with ``MinHash(hashfunc=<identity>).update_batch(<shingle hashes>)``.

What is ours is the shingle hash (``SHINGLE_HASH``), computed for a batch of contents with a
handful of array operations instead of one Python call per shingle:

* a token is a maximal run of ``[A-Za-z0-9_]`` (the pinned tokenizer, ``TOKENIZER``); its hash
  is ``fmix64(poly(token) ^ len(token))`` with ``poly(t) = sum(t[k] * P**k) mod 2**64``, taken
  from one prefix sum over the batch's bytes (``P`` is odd, so ``P**-s`` undoes the offset);
* a shingle of ``n`` consecutive tokens of one content hashes to the top 32 bits of
  ``fmix64(sum(M[k] * token_hash[i + k]) mod 2**64)``, ``M[k]`` odd constants.

``shingle_hash`` is the same function for one shingle in plain Python: the reference.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from datasketch import MinHash

SCHEME = "affine32"  # datasketch's permutation scheme, pinned: signatures are cached
SHINGLE_HASH = "poly64-fmix-top32"
_MASK64 = (1 << 64) - 1
_P = 0x100000001B3  # odd: invertible modulo 2**64
_P_INVERSE = pow(_P, -1, 1 << 64)
_WORD_BYTES = np.zeros(256, dtype=bool)
_WORD_BYTES[np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_",
                          dtype=np.uint8)] = True
BATCH_BYTES = 1 << 20  # contents joined per prefix sum (bounds the power tables' size)
PERMUTE_ROWS = 4096  # shingles permuted per step: a 4 MiB (256 x 4096) uint32 block


def _fmix64_int(h: int) -> int:
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & _MASK64
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & _MASK64
    return h ^ (h >> 33)


def _fmix64(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint64(33))
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


def _fmix32(h: np.ndarray) -> np.ndarray:  # datasketch's pre-mix for affine32
    h = h ^ (h >> np.uint32(16))
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


@cache
def _multipliers(n: int) -> tuple[int, ...]:
    return tuple(_fmix64_int(k + 1) | 1 for k in range(n))


def token_hash(token: bytes) -> int:
    """The 64-bit hash of one token (reference implementation)."""
    poly = sum(byte * pow(_P, k, 1 << 64) for k, byte in enumerate(token)) & _MASK64
    return _fmix64_int(poly ^ len(token))


def shingle_hash(tokens: list[bytes]) -> int:
    """The 32-bit hash of one shingle, given its tokens (reference implementation)."""
    total = sum(m * token_hash(t) for m, t in zip(_multipliers(len(tokens)), tokens,
                                                   strict=True))
    return _fmix64_int(total & _MASK64) >> 32


class _Powers:
    """``P**k`` and ``P**-k`` modulo 2**64 for k below a size that grows on demand."""

    def __init__(self) -> None:
        self.forward = self.inverse = np.ones(1, dtype=np.uint64)

    def upto(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        if len(self.forward) < size:
            size = max(size, 2 * len(self.forward))
            self.forward = self._table(_P, size)
            self.inverse = self._table(_P_INVERSE, size)
        return self.forward[:size], self.inverse[:size]

    @staticmethod
    def _table(base: int, size: int) -> np.ndarray:
        steps = np.full(size, base, dtype=np.uint64)
        steps[0] = 1
        return np.cumprod(steps)  # wraps modulo 2**64, as intended


_POWERS = _Powers()


def _token_hashes(contents: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """(hash of every token, index of its content), one pass over the batch's bytes."""
    # Newlines between, before and after the contents: no token spans two, and every token
    # starts and ends where the word-byte mask changes.
    data = np.frombuffer(b"\n" + b"\n".join(contents) + b"\n", dtype=np.uint8)
    word = _WORD_BYTES[data]
    edges = np.flatnonzero(word[1:] != word[:-1]) + 1
    starts, ends = edges[0::2], edges[1::2]
    forward, inverse = _POWERS.upto(len(data) + 1)
    prefix = np.empty(len(data) + 1, dtype=np.uint64)
    prefix[0] = 0
    np.multiply(data, forward[:len(data)], out=prefix[1:])
    np.cumsum(prefix[1:], out=prefix[1:])
    poly = (prefix[ends] - prefix[starts]) * inverse[starts]
    hashes = _fmix64(poly ^ (ends - starts).astype(np.uint64))
    bounds = 1 + np.cumsum([len(c) + 1 for c in contents])  # where each next content starts
    return hashes, np.searchsorted(bounds, starts, side="right")


def shingle_hashes(contents: list[bytes], n: int) -> tuple[np.ndarray, np.ndarray]:
    """(uint32 hash of every shingle, index of its content), content by content."""
    hashes, owner = _token_hashes(contents)
    count = len(hashes) - n + 1
    if count <= 0:
        return np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.int64)
    total = np.zeros(count, dtype=np.uint64)
    for k, multiplier in enumerate(_multipliers(n)):
        total += hashes[k:k + count] * np.uint64(multiplier)
    inside = owner[:count] == owner[n - 1:n - 1 + count]  # no shingle spans two contents
    return ((_fmix64(total[inside]) >> np.uint64(32)).astype(np.uint32),
            owner[:count][inside])


@cache
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's (a, b) for the seed, as uint32 column vectors."""
    a, b = MinHash(num_perm=num_perm, seed=seed, scheme=SCHEME).permutations
    return a.astype(np.uint32)[:, None], b.astype(np.uint32)[:, None]


def min_hashes(hashes: np.ndarray, owner: np.ndarray, count: int, num_perm: int,
               seed: int) -> np.ndarray:
    """(num_perm, count) minima of the permuted hashes of each owner (all-ones when none).

    ``owner`` must be non-decreasing.
    """
    a, b = permutations(num_perm, seed)
    out = np.full((num_perm, count), np.iinfo(np.uint32).max, dtype=np.uint32)
    mixed = _fmix32(hashes)
    for low in range(0, len(mixed), PERMUTE_ROWS):
        part, who = mixed[low:low + PERMUTE_ROWS], owner[low:low + PERMUTE_ROWS]
        segments = np.flatnonzero(np.r_[True, who[1:] != who[:-1]])
        permuted = a * part
        permuted += b
        least = np.minimum.reduceat(permuted, segments, axis=1)
        targets = who[segments]
        out[:, targets] = np.minimum(out[:, targets], least)
    return out


def signatures(contents: list[bytes], n: int, num_perm: int, seed: int) -> list[bytes | None]:
    """Each content's signature (num_perm little-endian uint32), None with no shingle."""
    out: list[bytes | None] = []
    for group in _by_size(contents):
        hashes, owner = shingle_hashes(group, n)
        table = min_hashes(hashes, owner, len(group), num_perm, seed).T.astype("<u4")
        has = np.zeros(len(group), dtype=bool)
        has[owner] = True
        out.extend(table[i].tobytes() if has[i] else None for i in range(len(group)))
    return out


def _by_size(contents: list[bytes]) -> list[list[bytes]]:
    groups: list[list[bytes]] = [[]]
    size = 0
    for data in contents:
        if groups[-1] and size + len(data) > BATCH_BYTES:
            groups.append([])
            size = 0
        groups[-1].append(data)
        size += len(data) + 1
    return groups
