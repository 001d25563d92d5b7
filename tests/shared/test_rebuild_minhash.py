"""shared/rebuild/minhash: the vectorised signatures are datasketch's MinHash, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from datasketch import MinHash

from shared.rebuild import minhash
from shared.rebuild.config import RebuildConfig
from shared.rebuild.dedup import shingles, signatures
from tests.shared.rebuild_corpus import module

DOCS = [
    b"a.b(c, d)+e;f",
    "caf\u00e9 = na\u00efve(x_1, y2) + \u00fcber; z q".encode(),  # non-ASCII splits tokens
    b"\x00\xff" + b"tok " * 3 + b"\xfe longer_token_" + b"z" * 5000 + b" end of it all",
    module("alpha").encode(),
    module("alpha", variant="tweaked").encode(),
    b"same same same same same same same",  # one distinct shingle
    b"too short",
    b"",
]


def datasketch_signature(data: bytes, config: RebuildConfig) -> list[int] | None:
    """datasketch.MinHash over the reference hashes of the pinned tokenizer's shingles."""
    grams = shingles(data, config.ngram)
    if not grams:
        return None
    sketch = MinHash(num_perm=config.num_perm, seed=config.minhash_seed,
                     scheme=minhash.SCHEME, hashfunc=lambda value: value)
    sketch.update_batch([minhash.shingle_hash(g.split(b" ")) for g in sorted(grams)])
    return sketch.hashvalues.tolist()


@pytest.mark.parametrize("config", [RebuildConfig(), RebuildConfig(ngram=3, num_perm=64,
                                                                     minhash_seed=42)])
def test_signatures_equal_datasketch_minhash(config):
    found = signatures(DOCS, config)
    for data, signature in zip(DOCS, found, strict=True):
        expected = datasketch_signature(data, config)
        got = None if signature is None else np.frombuffer(signature, "<u4").tolist()
        assert got == expected, data[:40]
    assert found[-2:] == [None, None]


def test_vectorised_shingle_hashes_equal_the_reference():
    hashes, owner = minhash.shingle_hashes(DOCS, 5)
    assert np.all(np.diff(owner) >= 0)
    for index, data in enumerate(DOCS):
        expected = sorted({minhash.shingle_hash(g.split(b" ")) for g in shingles(data, 5)})
        assert sorted(set(hashes[owner == index].tolist())) == expected


def test_a_signature_does_not_depend_on_its_batch(monkeypatch):
    config = RebuildConfig()
    alone = [signatures([d], config)[0] for d in DOCS]
    monkeypatch.setattr(minhash, "BATCH_BYTES", 700)  # many small groups, one per big doc
    monkeypatch.setattr(minhash, "PERMUTE_ROWS", 5)  # a content's shingles span steps
    assert signatures(DOCS, config) == alone
    assert signatures(DOCS[::-1], config) == alone[::-1]


def test_token_hashes_tell_tokens_apart():
    tokens = [b"a", b"b", b"ab", b"ba", b"a" * 2, b"a" * 3, b"_", b"0", b"00", b"A"]
    assert len({minhash.token_hash(t) for t in tokens}) == len(set(tokens))
    # The order of tokens in a shingle matters.
    assert minhash.shingle_hash([b"a", b"b"]) != minhash.shingle_hash([b"b", b"a"])
