"""RFC 9162 Merkle tree: upstream test vectors, a reference implementation, and properties.

The vectors are those of transparency-dev/merkle (the Go library behind Trillian, Tessera and
the Go checksum database): ``testonly/constants.go`` (leaf inputs, every complete-subtree
hash, roots of sizes 0-8), ``proof/verify_test.go`` (golden inclusion and consistency proofs
and the corruptions every verifier must reject, which ``testdata/inclusion`` and
``testdata/consistency`` spell out as JSON) and ``proof/proof_test.go`` (which nodes make up
a proof, written here as leaf ranges).
"""

from __future__ import annotations

import hashlib
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.merkle import (
    EMPTY_ROOT,
    MemoryTree,
    ProofError,
    consistency_proof,
    consistency_ranges,
    frontier,
    inclusion_proof,
    inclusion_ranges,
    leaf_hash,
    node_hash,
    nodes_after_append,
    proof_nodes,
    range_hash,
    range_nodes,
    root,
    root_from_inclusion,
    root_from_nodes,
    verify_consistency,
    verify_inclusion,
)


def h(hex_string: str) -> bytes:
    return bytes.fromhex(hex_string)


# testonly/constants.go: LeafInputs, NodeHashes (by level, then index) and RootHashes.
LEAF_INPUTS = [
    h(""),
    h("00"),
    h("10"),
    h("2021"),
    h("3031"),
    h("40414243"),
    h("5051525354555657"),
    h("606162636465666768696a6b6c6d6e6f"),
]
NODE_HASHES = [
    [
        h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
        h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
        h("0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7"),
        h("07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7"),
        h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        h("4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658"),
        h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
        h("46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"),
    ],
    [
        h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
        h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
        h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
    ],
    [
        h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
    ],
    [h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")],
]
ROOTS = [
    h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    h("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    h("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    h("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    h("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]

# proof/verify_test.go: inclusionProofs as (leaf index, tree size, proof); upstream numbers the
# leaf from 1, here from 0.
INCLUSION_PROOFS = [
    (0, 1, []),
    (
        0,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        5,
        8,
        [
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (2, 3, [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (
        1,
        5,
        [
            h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
]

# proof/verify_test.go: consistencyProofs as (size1, size2, proof).
CONSISTENCY_PROOFS = [
    (1, 1, []),
    (
        1,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (
        2,
        5,
        [
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (
        6,
        7,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]

SOME_HASH = h("abacaba000000000000000000000000000000000000000000060061e00123456")

STANDARD_TREE = MemoryTree(LEAF_INPUTS)


# -- known answers -------------------------------------------------------------------------------


@pytest.mark.parametrize("size", range(9))
def test_roots_of_the_standard_leaves(size):
    leaves = [leaf_hash(entry) for entry in LEAF_INPUTS[:size]]
    assert root(leaves) == ROOTS[size]
    assert STANDARD_TREE.root(size) == ROOTS[size]


def test_empty_tree_is_sha256_of_nothing():
    assert root([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()
    assert MemoryTree().root() == EMPTY_ROOT


def test_every_complete_subtree_hash_matches_upstream():
    for level, hashes in enumerate(NODE_HASHES):
        for index, expected in enumerate(hashes):
            assert STANDARD_TREE.get_node(level, index) == expected, (level, index)


def test_hash_domains_are_separated():
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert node_hash(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()


# testonly/constants.go CompactTrees: the frontier of each tree size, as NodeHashes.
@pytest.mark.parametrize(
    ("size", "nodes"),
    [
        (0, []),
        (1, [(0, 0)]),
        (2, [(1, 0)]),
        (3, [(1, 0), (0, 2)]),
        (4, [(2, 0)]),
        (5, [(2, 0), (0, 4)]),
        (6, [(2, 0), (1, 2)]),
        (7, [(2, 0), (1, 2), (0, 6)]),
        (8, [(3, 0)]),
    ],
)
def test_frontier_is_the_compact_range(size, nodes):
    assert frontier(size) == nodes
    assert root_from_nodes(size, STANDARD_TREE.get_node) == ROOTS[size]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_PROOFS)
def test_golden_inclusion_proofs(index, size, proof):
    leaf = leaf_hash(LEAF_INPUTS[index])
    assert STANDARD_TREE.inclusion_proof(index, size) == proof
    assert root_from_inclusion(leaf, index, size, proof) == ROOTS[size]
    verify_inclusion(leaf, index, size, proof, ROOTS[size])
    for description, probe in corrupt_inclusion(index, size, proof, ROOTS[size], leaf):
        with pytest.raises(ProofError):
            verify_inclusion(*probe)
            pytest.fail(f"accepted a corrupted inclusion proof: {description}")


@pytest.mark.parametrize(("size1", "size2", "proof"), CONSISTENCY_PROOFS)
def test_golden_consistency_proofs(size1, size2, proof):
    assert STANDARD_TREE.consistency_proof(size1, size2) == proof
    verify_consistency(size1, size2, ROOTS[size1], ROOTS[size2], proof)
    if not proof:
        return
    for description, probe in corrupt_consistency(size1, size2, ROOTS[size1], ROOTS[size2], proof):
        with pytest.raises(ProofError):
            verify_consistency(*probe)
            pytest.fail(f"accepted a corrupted consistency proof: {description}")


def corrupt_inclusion(index, size, proof, root_hash, leaf):
    """The probes of verify_test.go corruptInclusionProof, in (leaf, index, size, proof, root)."""
    probes = [
        ("index - 1", (leaf, index - 1, size, proof, root_hash)),
        ("index + 1", (leaf, index + 1, size, proof, root_hash)),
        ("index ^ 2", (leaf, index ^ 2, size, proof, root_hash)),
        ("size * 2", (leaf, index, size * 2, proof, root_hash)),
        ("size // 2", (leaf, index, size // 2, proof, root_hash)),
        ("wrong leaf", (b"WrongLeaf", index, size, proof, root_hash)),
        ("empty root", (leaf, index, size, proof, EMPTY_ROOT)),
        ("random root", (leaf, index, size, proof, SOME_HASH)),
        ("trailing garbage", (leaf, index, size, [*proof, b""], root_hash)),
        ("trailing root", (leaf, index, size, [*proof, root_hash], root_hash)),
        ("preceding garbage", (leaf, index, size, [b"", *proof], root_hash)),
        ("preceding root", (leaf, index, size, [root_hash, *proof], root_hash)),
    ]
    for i in range(len(proof)):
        probes.append((f"proof[{i}] bit 3", (leaf, index, size, flip(proof, i, 0, 8), root_hash)))
    if proof:
        probes.append(("removed component", (leaf, index, size, proof[:-1], root_hash)))
    if len(proof) > 1:
        inserted = [proof[0], SOME_HASH, *proof[1:]]
        probes.append(("inserted component", (leaf, index, size, inserted, root_hash)))
    return probes


def corrupt_consistency(size1, size2, root1, root2, proof):
    """The probes of verify_test.go corruptConsistencyProof, in verify_consistency's order."""
    probes = [
        ("size1 - 1", (size1 - 1, size2, root1, root2, proof)),
        ("size1 + 1", (size1 + 1, size2, root1, root2, proof)),
        ("size1 ^ 2", (size1 ^ 2, size2, root1, root2, proof)),
        ("size2 * 2", (size1, size2 * 2, root1, root2, proof)),
        ("size2 // 2", (size1, size2 // 2, root1, root2, proof)),
        ("wrong root1", (size1, size2, b"WrongRoot", root2, proof)),
        ("wrong root2", (size1, size2, root1, b"WrongRoot", proof)),
        ("swapped roots", (size1, size2, root2, root1, proof)),
        ("empty proof", (size1, size2, root1, root2, [])),
        ("trailing garbage", (size1, size2, root1, root2, [*proof, b""])),
        ("trailing root1", (size1, size2, root1, root2, [*proof, root1])),
        ("trailing root2", (size1, size2, root1, root2, [*proof, root2])),
        ("preceding garbage", (size1, size2, root1, root2, [b"", *proof])),
        ("preceding root1", (size1, size2, root1, root2, [root1, *proof])),
        ("preceding root2", (size1, size2, root1, root2, [root2, *proof])),
        ("preceding proof[0]", (size1, size2, root1, root2, [proof[0], *proof])),
        ("truncated proof", (size1, size2, root1, root2, proof[:-1])),
    ]
    for i in range(len(proof)):
        probes.append((f"proof[{i}] bit 4", (size1, size2, root1, root2, flip(proof, i, 0, 16))))
    return probes


def flip(proof, position, byte, mask):
    node = bytearray(proof[position])
    node[byte] ^= mask
    return [*proof[:position], bytes(node), *proof[position + 1 :]]


# verify_test.go TestVerifyInclusionSingleEntry: a 1-leaf tree's root is its leaf hash.
@pytest.mark.parametrize(
    ("root_hash", "leaf", "ok"),
    [
        (leaf_hash(b"data"), leaf_hash(b"data"), True),
        (leaf_hash(b"data"), b"", False),
        (b"", leaf_hash(b"data"), False),
        (b"", b"", False),
    ],
)
def test_single_entry_inclusion(root_hash, leaf, ok):
    if ok:
        verify_inclusion(leaf, 0, 1, [], root_hash)
    else:
        with pytest.raises(ProofError):
            verify_inclusion(leaf, 0, 1, [], root_hash)


# verify_test.go TestVerifyInclusion: impossible positions never verify.
@pytest.mark.parametrize(("index", "size"), [(0, 0), (0, 1), (1, 0), (2, 1)])
@pytest.mark.parametrize(
    ("leaf", "root_hash"),
    [(SOME_HASH, b""), (b"", EMPTY_ROOT), (SOME_HASH, EMPTY_ROOT)],
)
def test_inclusion_rejects_impossible_positions(index, size, leaf, root_hash):
    with pytest.raises(ProofError):
        verify_inclusion(leaf, index, size, [], root_hash)


R1 = hashlib.sha256(b"don't care 1").digest()
R2 = hashlib.sha256(b"don't care 2").digest()


# verify_test.go TestVerifyConsistency, with the "don't care" roots made 32 bytes long (we refuse
# roots of any other length). Marked rows differ from upstream by our size-0 rule: a size-0 tree
# must carry the empty-tree root, and then any proof from it is the empty proof.
@pytest.mark.parametrize(
    ("size1", "size2", "root1", "root2", "proof", "ok"),
    [
        (0, 0, R1, R2, [], False),
        (1, 1, R1, R2, [], False),
        (0, 0, R1, R1, [], False),  # upstream accepts: it ignores the roots of size 0
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [], True),
        (0, 1, R1, R2, [], False),  # upstream rejects every proof from size 0
        (0, 1, EMPTY_ROOT, R2, [], True),  # ours: the empty tree is a prefix of every tree
        (1, 1, R2, R2, [], True),
        (1, 0, R1, R2, [], False),
        (2, 1, R1, R2, [], False),
        (1, 2, R1, R2, [], False),
        (0, 0, EMPTY_ROOT, R2, [], False),
        (1, 1, EMPTY_ROOT, R2, [], False),
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
        (0, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
        (1, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
    ],
)
def test_consistency_edge_cases(size1, size2, root1, root2, proof, ok):
    if ok:
        verify_consistency(size1, size2, root1, root2, proof)
    else:
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, root1, root2, proof)


def test_consistency_from_size_zero_is_the_empty_proof():
    tree = MemoryTree(LEAF_INPUTS)
    for size in range(9):
        assert tree.consistency_proof(0, size) == []
        verify_consistency(0, size, EMPTY_ROOT, ROOTS[size], [])
    with pytest.raises(ProofError, match="must be empty"):
        verify_consistency(0, 8, EMPTY_ROOT, ROOTS[8], [ROOTS[8]])
    with pytest.raises(ProofError, match="empty string"):
        verify_consistency(0, 8, ROOTS[1], ROOTS[8], [])


def test_inclusion_proof_alone_does_not_bind_the_tree_size():
    # Documented caveat: leaf 0's proof in the tree of 3 "verifies" for a claimed size of 4 with
    # the same root, so a verifier must take size and root from one signed checkpoint.
    proof = STANDARD_TREE.inclusion_proof(0, 3)
    verify_inclusion(leaf_hash(LEAF_INPUTS[0]), 0, 4, proof, ROOTS[3])
    with pytest.raises(ProofError):
        verify_inclusion(leaf_hash(LEAF_INPUTS[0]), 0, 4, proof, ROOTS[4])


# proof/proof_test.go TestInclusion and TestConsistency: which subtrees a proof holds. Upstream
# lists node ids and "rehash" spans; a rehashed span is one right-edge range here.
@pytest.mark.parametrize(
    ("index", "size", "ranges"),
    [
        (0, 1, []),
        (0, 2, [(1, 2)]),
        (1, 2, [(0, 1)]),
        (1, 3, [(0, 1), (2, 3)]),
        (0, 7, [(1, 2), (2, 4), (4, 7)]),
        (1, 7, [(0, 1), (2, 4), (4, 7)]),
        (2, 7, [(3, 4), (0, 2), (4, 7)]),
        (3, 7, [(2, 3), (0, 2), (4, 7)]),
        (4, 7, [(5, 6), (6, 7), (0, 4)]),
        (5, 7, [(4, 5), (6, 7), (0, 4)]),
        (6, 7, [(4, 6), (0, 4)]),
        (2, 4, [(3, 4), (0, 2)]),
        (3, 5, [(2, 3), (0, 2), (4, 5)]),
        (3, 6, [(2, 3), (0, 2), (4, 6)]),
        (4, 6, [(5, 6), (0, 4)]),
        (10, 15, [(11, 12), (8, 10), (12, 15), (0, 8)]),
        (24, 31, [(25, 26), (26, 28), (28, 31), (16, 24), (0, 16)]),
        (81, 95, [(80, 81), (82, 84), (84, 88), (88, 95), (64, 80), (0, 64)]),
    ],
)
def test_inclusion_proof_shape(index, size, ranges):
    assert inclusion_ranges(index, size) == ranges


@pytest.mark.parametrize(("index", "size"), [(0, 0), (1, 0), (2, 1), (3, 0), (8, 7), (-1, 3)])
def test_inclusion_proof_of_a_missing_leaf_is_refused(index, size):
    with pytest.raises(ProofError):
        inclusion_ranges(index, size)


@pytest.mark.parametrize(
    ("size1", "size2", "ranges"),
    [
        (1, 2, [(1, 2)]),
        (1, 4, [(1, 2), (2, 4)]),
        (1, 6, [(1, 2), (2, 4), (4, 6)]),
        (2, 3, [(2, 3)]),
        (2, 8, [(2, 4), (4, 8)]),
        (3, 7, [(2, 3), (3, 4), (0, 2), (4, 7)]),
        (4, 7, [(4, 7)]),
        (5, 7, [(4, 5), (5, 6), (6, 7), (0, 4)]),
        (6, 7, [(4, 6), (6, 7), (0, 4)]),
        (7, 8, [(6, 7), (7, 8), (4, 6), (0, 4)]),
        *[(n, n, []) for n in (1, 2, 3, 4, 5, 7, 8)],
        (2, 4, [(2, 4)]),
        (3, 5, [(2, 3), (3, 4), (0, 2), (4, 5)]),
        (3, 6, [(2, 3), (3, 4), (0, 2), (4, 6)]),
        (4, 6, [(4, 6)]),
        (1, 7, [(1, 2), (2, 4), (4, 7)]),
        (10, 15, [(8, 10), (10, 12), (12, 15), (0, 8)]),
        (24, 31, [(16, 24), (24, 31), (0, 16)]),
        (81, 95, [(80, 81), (81, 82), (82, 84), (84, 88), (88, 95), (64, 80), (0, 64)]),
    ],
)
def test_consistency_proof_shape(size1, size2, ranges):
    assert consistency_ranges(size1, size2) == ranges


@pytest.mark.parametrize(("size1", "size2"), [(5, 0), (9, 8)])
def test_consistency_proof_backwards_is_refused(size1, size2):
    with pytest.raises(ProofError):
        consistency_ranges(size1, size2)


def test_ranges_that_are_no_subtree_are_refused():
    assert range_nodes(4, 7) == [(1, 2), (0, 6)]
    with pytest.raises(ProofError):
        range_nodes(1, 4)  # MTH(D[1:4]) splits differently from any tree's nodes
    with pytest.raises(ProofError):
        range_nodes(3, 3)


def test_memory_tree_refuses_sizes_beyond_its_end():
    with pytest.raises(ProofError):
        STANDARD_TREE.root(9)
    with pytest.raises(KeyError):
        STANDARD_TREE.get_node(3, 1)


# -- an independent reference: RFC 9162 section 2.1 as written, over the entries ----------------


def mth(entries):
    if not entries:
        return hashlib.sha256(b"").digest()
    if len(entries) == 1:
        return hashlib.sha256(b"\x00" + entries[0]).digest()
    k = 1 << (len(entries) - 1).bit_length() - 1
    return hashlib.sha256(b"\x01" + mth(entries[:k]) + mth(entries[k:])).digest()


def path(m, entries):
    if len(entries) == 1:
        return []
    k = 1 << (len(entries) - 1).bit_length() - 1
    if m < k:
        return path(m, entries[:k]) + [mth(entries[k:])]
    return path(m - k, entries[k:]) + [mth(entries[:k])]


def subproof(m, entries, complete):
    if m == len(entries):
        return [] if complete else [mth(entries)]
    k = 1 << (len(entries) - 1).bit_length() - 1
    if m <= k:
        return subproof(m, entries[:k], complete) + [mth(entries[k:])]
    return subproof(m - k, entries[k:], False) + [mth(entries[:k])]


def test_agrees_with_the_rfc_text_on_every_small_tree():
    entries = [b"entry %d" % i for i in range(33)]
    tree = MemoryTree(entries)
    for size in range(1, len(entries) + 1):
        prefix = entries[:size]
        assert tree.root(size) == mth(prefix)
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            assert proof == path(index, prefix)
            verify_inclusion(leaf_hash(entries[index]), index, size, proof, mth(prefix))
        for old in range(1, size + 1):
            proof = tree.consistency_proof(old, size)
            assert proof == (subproof(old, prefix, True) if old < size else [])
            verify_consistency(old, size, mth(entries[:old]), mth(prefix), proof)


def test_appending_reads_only_the_frontier_and_proofs_read_log_n_nodes():
    tree = MemoryTree(b"%d" % i for i in range(1000))
    reads = []

    def counting(level, index):
        reads.append((level, index))
        return tree.get_node(level, index)

    created = nodes_after_append(7, leaf_hash(b"next"), counting)
    assert set(reads) == set(frontier(7))
    assert [(level, index) for level, index, _ in created] == [(0, 7), (1, 3), (2, 1), (3, 0)]
    assert created[-1][2] == mth([b"%d" % i for i in range(7)] + [b"next"])

    bound = 2 * math.ceil(math.log2(1000))
    for index, size in [(0, 1000), (999, 1000), (517, 777), (3, 4)]:
        reads.clear()
        proof = inclusion_proof(index, size, counting)
        assert len(reads) <= bound
        assert set(reads) == proof_nodes(inclusion_ranges(index, size))
        verify_inclusion(tree.leaf_hash(index), index, size, proof, tree.root(size))
    for old, new in [(1, 1000), (999, 1000), (300, 777), (512, 1000)]:
        reads.clear()
        proof = consistency_proof(old, new, counting)
        assert len(reads) <= bound
        verify_consistency(old, new, tree.root(old), tree.root(new), proof)
    reads.clear()
    assert root_from_nodes(999, counting) == tree.root(999)
    assert len(reads) == bin(999).count("1")


def test_range_hash_matches_the_reference():
    entries = [b"%d" % i for i in range(40)]
    tree = MemoryTree(entries)
    for lo, hi in [(0, 40), (32, 40), (32, 39), (36, 39), (8, 13), (16, 17)]:
        assert range_hash(lo, hi, tree.get_node) == mth(entries[lo:hi])


# -- properties ----------------------------------------------------------------------------------

PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
logs = st.lists(st.binary(max_size=12), min_size=1, max_size=200, unique=True)


@PROPERTY
@given(entries=logs, data=st.data())
def test_every_inclusion_proof_verifies_and_every_change_is_rejected(entries, data):
    tree = MemoryTree(entries)
    n = tree.size
    size = data.draw(st.integers(1, n), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    leaf, root_hash = tree.leaf_hash(index), tree.root(size)
    proof = tree.inclusion_proof(index, size)
    verify_inclusion(leaf, index, size, proof, root_hash)

    rejected = []
    if proof:
        position = data.draw(st.integers(0, len(proof) - 1), label="position")
        byte = data.draw(st.integers(0, 31), label="byte")
        bit = data.draw(st.integers(0, 7), label="bit")
        rejected += [
            (leaf, index, size, flip(proof, position, byte, 1 << bit), root_hash),
            (leaf, index, size, proof[:-1], root_hash),
            (leaf, index, size, [*proof[:position], *proof[position + 1 :]], root_hash),
        ]
    rejected += [
        (leaf, index, size, [*proof, SOME_HASH], root_hash),
        (leaf, index, size, [SOME_HASH, *proof], root_hash),
        (leaf, index, size, proof, SOME_HASH),
        (leaf_hash(b"not in the log"), index, size, proof, root_hash),
    ]
    other_index = data.draw(st.integers(0, size - 1), label="other index")
    if other_index != index:
        rejected.append((leaf, other_index, size, proof, root_hash))
    for probe in rejected:
        with pytest.raises(ProofError):
            verify_inclusion(*probe)

    # A changed size passes only where the proof really is the proof for that size.
    other_size = data.draw(st.integers(index + 1, n), label="other size")
    try:
        verify_inclusion(leaf, index, other_size, proof, tree.root(other_size))
    except ProofError:
        pass
    else:
        assert proof == tree.inclusion_proof(index, other_size)


@PROPERTY
@given(entries=logs, data=st.data())
def test_every_consistency_proof_verifies_and_every_change_is_rejected(entries, data):
    tree = MemoryTree(entries)
    n = tree.size
    new = data.draw(st.integers(0, n), label="new")
    old = data.draw(st.integers(0, new), label="old")
    old_root, new_root = tree.root(old), tree.root(new)
    proof = tree.consistency_proof(old, new)
    verify_consistency(old, new, old_root, new_root, proof)

    rejected = []
    if proof:
        position = data.draw(st.integers(0, len(proof) - 1), label="position")
        byte = data.draw(st.integers(0, 31), label="byte")
        bit = data.draw(st.integers(0, 7), label="bit")
        rejected += [
            (old, new, old_root, new_root, flip(proof, position, byte, 1 << bit)),
            (old, new, old_root, new_root, proof[:-1]),
            (old, new, old_root, new_root, [*proof, SOME_HASH]),
            (old, new, old_root, new_root, [SOME_HASH, *proof]),
            (old, new, SOME_HASH, new_root, proof),
            (old, new, old_root, SOME_HASH, proof),
            (old, new, new_root, old_root, proof),
        ]
    elif old < new:  # from size 0: nothing to prove, but the old root must be the empty root
        rejected.append((old, new, SOME_HASH, new_root, proof))
    else:
        rejected.append((old, new, old_root, SOME_HASH, proof))
    for probe in rejected:
        with pytest.raises(ProofError):
            verify_consistency(*probe)

    # Changed sizes pass only where the proof really is the proof between those sizes.
    other_new = data.draw(st.integers(0, n), label="other new")
    other_old = data.draw(st.integers(0, other_new), label="other old")
    try:
        verify_consistency(other_old, other_new, tree.root(other_old), tree.root(other_new), proof)
    except ProofError:
        pass
    else:
        assert proof == tree.consistency_proof(other_old, other_new)


@PROPERTY
@given(entries=logs)
def test_incremental_roots_match_the_batch_root(entries):
    tree = MemoryTree()
    for count, entry in enumerate(entries, start=1):
        assert tree.append(entry) == count - 1
    leaves = [leaf_hash(entry) for entry in entries]
    for size in {0, 1, len(entries) // 2, len(entries) - 1, len(entries)}:
        assert tree.root(size) == root(leaves[:size])
