"""RFC 9162 (RFC 6962) Merkle tree hashing, proofs and their verification.

A log of entries ``D[0:n]`` has the root ``MTH(D[0:n])`` where ``leaf = SHA-256(0x00 || entry)``,
``node = SHA-256(0x01 || left || right)``, the tree splits at the largest power of two strictly
less than ``n``, and the empty tree hashes to ``SHA-256("")``.

Storage model. A *node* ``(level, index)`` is the complete subtree over the leaves
``[index * 2**level, (index + 1) * 2**level)``; its hash never changes once the log is that long.
Every root, inclusion proof and consistency proof is built from O(log n) such nodes: the proof
functions take a ``get_node(level, index) -> bytes`` callback, so a server that stores complete
subtree hashes answers any of them in O(log n) reads. ``proof_nodes`` names the nodes a proof
will read, so they can be fetched in one query first. ``MemoryTree`` is the in-memory version.

Verification follows RFC 9162 sections 2.1.3.2 (inclusion) and 2.1.4.2 (consistency) step by
step. Every verifier raises ``ProofError`` with the reason on failure and returns ``None`` on
success; every hash (leaf, node, root) must be exactly 32 bytes.

Rules where the RFC is silent:

* Equal sizes: a consistency proof from ``n`` to ``n`` is empty and holds iff the roots are equal.
* Size 0: the empty tree is a prefix of every tree, so a consistency proof from size 0 to any
  size is the *empty* proof, and it holds iff ``old_root`` is the empty-tree hash
  ``SHA-256("")``. This follows Sigsum and C2SP (transparency-dev/merkle instead rejects any
  proof from size 0); we add the root check because a signed size-0 checkpoint that names any
  other root is a false statement.
* An inclusion proof does not bind the tree size on its own (the proof for leaf 0 of a tree of
  size 3 also "verifies" as size 4 against the same root). Always take the size and the root
  from the same signed checkpoint.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

GetNode = Callable[[int, int], bytes]
"""Return the hash of the complete subtree ``(level, index)``."""

Node = tuple[int, int]
"""A complete subtree ``(level, index)``: leaves ``[index << level, (index + 1) << level)``."""


class ProofError(ValueError):
    """A proof that does not verify, or arguments that cannot describe a proof."""


def leaf_hash(entry: bytes) -> bytes:
    """Hash a log entry as a leaf: SHA-256(0x00 || entry)."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash two children into their parent: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def root(leaf_hashes: Iterable[bytes]) -> bytes:
    """Return MTH of a whole list of leaf hashes, in O(n) time and O(log n) memory."""
    stack: list[tuple[int, bytes]] = []  # (level, hash) of the complete subtrees so far
    for leaf in leaf_hashes:
        level, value = 0, leaf
        while stack and stack[-1][0] == level:
            value = node_hash(stack.pop()[1], value)
            level += 1
        stack.append((level, value))
    if not stack:
        return EMPTY_ROOT
    return _fold_right([value for _, value in stack])


# -- index arithmetic ---------------------------------------------------------------------------


def _split(n: int) -> int:
    """The largest power of two strictly less than ``n`` (for n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_size(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProofError(f"{name} must be a non-negative integer, got {value!r}")


def range_nodes(lo: int, hi: int) -> list[Node]:
    """Return the complete subtrees, left to right, whose fold is MTH(D[lo:hi]).

    The range must be one that occurs in the tree: ``lo`` a multiple of the smallest power of
    two that is at least ``hi - lo`` (true of [0, n) and of every range a proof uses).
    """
    _check_size("lo", lo)
    _check_size("hi", hi)
    width = hi - lo
    if width <= 0:
        raise ProofError(f"empty range [{lo}, {hi})")
    if lo % (1 << (width - 1).bit_length()):
        raise ProofError(f"[{lo}, {hi}) is not a subtree of any Merkle tree")
    nodes = []
    while lo < hi:
        level = (hi - lo).bit_length() - 1  # the biggest aligned piece that still fits
        nodes.append((level, lo >> level))
        lo += 1 << level
    return nodes


def _fold_right(hashes: Sequence[bytes]) -> bytes:
    value = hashes[-1]
    for left in reversed(hashes[:-1]):
        value = node_hash(left, value)
    return value


def range_hash(lo: int, hi: int, get_node: GetNode) -> bytes:
    """Return MTH(D[lo:hi]) from O(log n) complete-subtree hashes."""
    return _fold_right([get_node(level, index) for level, index in range_nodes(lo, hi)])


def frontier(size: int) -> list[Node]:
    """Return the complete subtrees that make up a tree of ``size`` leaves (its compact range)."""
    _check_size("size", size)
    return range_nodes(0, size) if size else []


def root_from_nodes(size: int, get_node: GetNode) -> bytes:
    """Return the root at ``size`` from the O(log n) nodes of its frontier."""
    _check_size("size", size)
    return range_hash(0, size, get_node) if size else EMPTY_ROOT


def nodes_after_append(size: int, leaf: bytes, get_node: GetNode) -> list[tuple[int, int, bytes]]:
    """Return the nodes ``(level, index, hash)`` completed by appending ``leaf`` at ``size``.

    The leaf itself comes first; each further node reads only its left sibling, which is a node
    of the frontier of ``size``.
    """
    _check_size("size", size)
    _check_hash("leaf hash", leaf)
    created = [(0, size, leaf)]
    level, index, value = 0, size, leaf
    while index & 1:
        value = node_hash(get_node(level, index - 1), value)
        level, index = level + 1, index >> 1
        created.append((level, index, value))
    return created


# -- proof generation (RFC 9162 2.1.3.1 and 2.1.4.1, as ranges) ---------------------------------


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Return the ranges [lo, hi) whose MTHs form PATH(index, D[0:size]), bottom up."""
    _check_size("index", index)
    _check_size("size", size)
    if index >= size:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")
    ranges = []
    lo, hi, m = 0, size, index
    while hi - lo > 1:
        k = _split(hi - lo)
        if m < k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo, m = lo + k, m - k
    return ranges[::-1]


def consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """Return the ranges [lo, hi) whose MTHs form PROOF(old_size, D[0:new_size])."""
    _check_size("old size", old_size)
    _check_size("new size", new_size)
    if old_size > new_size:
        raise ProofError(f"old size {old_size} is larger than new size {new_size}")
    if old_size == 0 or old_size == new_size:
        return []
    ranges = []
    lo, hi, m, complete = 0, new_size, old_size, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo, m, complete = lo + k, m - k, False
    if not complete:
        ranges.append((lo, hi))
    return ranges[::-1]


def proof_nodes(ranges: Iterable[tuple[int, int]]) -> set[Node]:
    """Return every node that ``range_hash`` will read to answer a proof's ranges."""
    return {node for lo, hi in ranges for node in range_nodes(lo, hi)}


def inclusion_proof(index: int, size: int, get_node: GetNode) -> list[bytes]:
    """Return the inclusion proof of leaf ``index`` in the tree of ``size`` leaves."""
    return [range_hash(lo, hi, get_node) for lo, hi in inclusion_ranges(index, size)]


def consistency_proof(old_size: int, new_size: int, get_node: GetNode) -> list[bytes]:
    """Return the proof that the tree of ``old_size`` leaves is a prefix of ``new_size``."""
    return [range_hash(lo, hi, get_node) for lo, hi in consistency_ranges(old_size, new_size)]


# -- verification (RFC 9162 2.1.3.2 and 2.1.4.2) -------------------------------------------------


def _check_hash(name: str, value: bytes) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        size = len(value) if isinstance(value, bytes) else type(value).__name__
        raise ProofError(f"{name} must be {HASH_SIZE} bytes, got {size}")


def _check_proof(proof: Sequence[bytes]) -> None:
    for position, node in enumerate(proof):
        _check_hash(f"proof node {position}", node)


def root_from_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """Return the root that an inclusion proof implies for ``leaf`` at ``index`` of ``size``."""
    _check_size("index", index)
    _check_size("size", size)
    _check_hash("leaf hash", leaf)
    _check_proof(proof)
    if index >= size:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the tree is deep")
    return r


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], expected_root: bytes
) -> None:
    """Check that ``leaf`` is at ``index`` of the tree of ``size`` with ``expected_root``."""
    _check_hash("root", expected_root)
    if root_from_inclusion(leaf, index, size, proof) != expected_root:
        raise ProofError(f"inclusion proof of leaf {index} does not lead to the tree's root")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree (old_size, old_root) is a prefix of the tree (new_size, new_root)."""
    _check_size("old size", old_size)
    _check_size("new size", new_size)
    _check_hash("old root", old_root)
    _check_hash("new root", new_root)
    _check_proof(proof)
    if old_size > new_size:
        raise ProofError(f"old size {old_size} is larger than new size {new_size}")
    if old_size == 0 and old_root != EMPTY_ROOT:
        raise ProofError("the root of a tree of size 0 must be SHA-256 of the empty string")
    if old_size == new_size:
        if proof:
            raise ProofError("a consistency proof between equal sizes must be empty")
        if old_root != new_root:
            raise ProofError(f"two different roots for the same size {old_size}")
        return
    if old_size == 0:
        if proof:
            raise ProofError("a consistency proof from the empty tree must be empty")
        return
    _verify_consistency_path(old_size, new_size, old_root, new_root, list(proof))


def _verify_consistency_path(
    first: int, second: int, first_hash: bytes, second_hash: bytes, path: list[bytes]
) -> None:
    # Step numbers are those of RFC 9162 section 2.1.4.2.
    if not path:  # 1
        raise ProofError("consistency proof is empty")
    if first & (first - 1) == 0:  # 2: the old tree is a complete subtree, left out of the proof
        path.insert(0, first_hash)
    fn, sn = first - 1, second - 1  # 3
    while fn & 1:  # 4
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]  # 5
    for c in path[1:]:  # 6
        if sn == 0:
            raise ProofError("consistency proof is longer than the trees are deep")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:  # 7
        raise ProofError("consistency proof is shorter than the trees are deep")
    if fr != first_hash:
        raise ProofError(f"consistency proof does not lead to the old root (size {first})")
    if sr != second_hash:
        raise ProofError(f"consistency proof does not lead to the new root (size {second})")


# -- in memory -----------------------------------------------------------------------------------


class MemoryTree:
    """An append-only Merkle tree in memory that keeps every complete-subtree hash."""

    def __init__(self, entries: Iterable[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = []  # _levels[level][index]
        for entry in entries:
            self.append(entry)

    @property
    def size(self) -> int:
        return len(self._levels[0]) if self._levels else 0

    def append(self, entry: bytes) -> int:
        """Append an entry and return its index."""
        return self.append_leaf_hash(leaf_hash(entry))

    def append_leaf_hash(self, leaf: bytes) -> int:
        """Append a leaf by its hash and return its index."""
        index = self.size
        for level, position, value in nodes_after_append(index, leaf, self.get_node):
            if level == len(self._levels):
                self._levels.append([])
            assert len(self._levels[level]) == position
            self._levels[level].append(value)
        return index

    def get_node(self, level: int, index: int) -> bytes:
        """Return the hash of the complete subtree ``(level, index)``."""
        try:
            return self._levels[level][index]
        except IndexError:
            message = f"no complete subtree ({level}, {index}) in a tree of size {self.size}"
            raise KeyError(message) from None

    def leaf_hash(self, index: int) -> bytes:
        return self.get_node(0, index)

    def root(self, size: int | None = None) -> bytes:
        """Return the root at ``size`` (default: the current size)."""
        return root_from_nodes(self._size(size), self.get_node)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return inclusion_proof(index, self._size(size), self.get_node)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        return consistency_proof(old_size, self._size(new_size), self.get_node)

    def _size(self, size: int | None) -> int:
        if size is None:
            return self.size
        _check_size("size", size)
        if size > self.size:
            raise ProofError(f"size {size} is beyond the tree's {self.size} leaves")
        return size
