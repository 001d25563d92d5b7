"""The vectorised matcher agrees with a plain Python reference on generated rows and rules.

The fast path hashes keys to 64 bits and confirms every table hit on the strings, so it must
give exactly the reference's answer whatever the data, and also when the hash is made to
collide on purpose (every rule then shares a key with others).
"""

from __future__ import annotations

from unittest import mock

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.exclusions import matching
from shared.exclusions.format import (
    Matcher,
    RuleError,
    build_body,
    content_rule,
    file_rule,
    owner_rule,
    repository_rule,
)
from shared.exclusions.matching import (
    ABSENT,
    NO_RULE,
    BatchMatcher,
    Columns,
    HashIndex,
    hash_strings,
)

SWH = "swh:1:cnt:"
HOSTS = ["github.com", "GitHub.com", "gitlab.com", "codeberg.org"]
# Upper and lower case, letters whose lower case differs in pyarrow and Python (İ, ẞ), and
# enough length to pass the 32 bytes that are hashed whole.
segment = st.text(alphabet="aAbB-_.0İẞΣé", min_size=1, max_size=24).filter(
    lambda s: s not in (".", ".."))
long_segment = st.builds(lambda a, b: a + "x" * 30 + b, segment, segment)
name = st.one_of(segment, long_segment)
path = st.lists(name, min_size=1, max_size=3).map("/".join)
hex40 = st.sampled_from([f"{n:040x}" for n in (0, 1, 2, 3, 0xABC, 2**159)])
blob = st.one_of(
    hex40,
    hex40.map(str.upper),
    hex40.map(lambda h: SWH + h),
    hex40.map(lambda h: (SWH + h).upper()),
    st.text(alphabet="0123456789abcdefABCDEF:swh", max_size=50),
)
row = st.tuples(
    st.one_of(st.none(), st.sampled_from(HOSTS)),
    st.one_of(st.none(), segment),
    st.one_of(st.none(), name),
    st.one_of(st.none(), path),
    st.one_of(st.none(), blob),
)


def reference(matcher: Matcher, rows) -> list[int]:
    """Row by row with dicts: the broadest rule (owner, repository, file, content) or -1."""
    index = {kind: {} for kind in ("owner", "repository", "file", "content")}
    for i, rule in enumerate(matcher.rules):
        kind = rule["kind"]
        fields = {"owner": ("host", "owner"), "repository": ("host", "owner", "name"),
                  "file": ("host", "owner", "name", "path"), "content": ("swhid",)}[kind]
        index[kind][tuple(rule[f] for f in fields)] = i
    out = []
    for host, owner, name_, path_, blob_ in rows:
        found = -1
        if None not in (host, owner, name_):
            h, o, n = host.lower(), owner.lower(), name_.lower()
            found = index["owner"].get((h, o), -1)
            if found < 0:
                found = index["repository"].get((h, o, n), -1)
            if found < 0 and path_ is not None:
                found = index["file"].get((h, o, n, path_), -1)
        if found < 0 and blob_ is not None:
            value = blob_.lower()
            value = value if value.startswith(SWH) else SWH + value
            found = index["content"].get((value,), -1)
        out.append(found)
    return out


def rules_for(rows, picks, extra) -> list[dict]:
    """Rules of every kind drawn from the rows (so they match) plus unrelated ones."""
    rules = []
    for (host, owner, name_, path_, blob_), kind in zip(rows, picks, strict=False):
        try:
            if kind == 0 and host and owner:
                rules.append(owner_rule(host, owner))
            elif kind == 1 and host and owner and name_:
                rules.append(repository_rule(host, owner, name_))
            elif kind == 2 and host and owner and name_ and path_:
                rules.append(file_rule(host, owner, name_, path_))
            elif kind == 3 and blob_:
                rules.append(content_rule(blob_))
        except RuleError:
            pass  # e.g. a junk blob id: no rule
    return rules + extra


extra_rules = st.lists(st.one_of(
    st.builds(owner_rule, st.sampled_from(HOSTS), segment),
    st.builds(repository_rule, st.sampled_from(HOSTS), segment, name),
    st.builds(file_rule, st.sampled_from(HOSTS), segment, name, path),
    st.builds(content_rule, hex40),
), max_size=8)


def as_table(rows, layout: str) -> pa.Table:
    names = ["host", "owner", "name", "path", "blob_id"]
    columns = {n: pa.array([r[i] for r in rows], pa.string()) for i, n in enumerate(names)}
    if layout == "large_string":
        columns = {n: c.cast(pa.large_string()) for n, c in columns.items()}
    elif layout == "dictionary":
        columns = {n: c.dictionary_encode() for n, c in columns.items()}
    table = pa.table(columns)
    if layout == "chunked" and len(rows) > 2:
        half = len(rows) // 2
        table = pa.concat_tables([table.slice(0, half), table.slice(half)])
    return table


def weak_hash(values: pa.Array) -> np.ndarray:
    """Collides on purpose: only the length modulo 3."""
    lengths = pc.fill_null(pc.binary_length(values), 0).to_numpy()
    return (lengths % 3).astype(np.uint64)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(row, max_size=40), picks=st.lists(st.integers(0, 4), max_size=40),
       extra=extra_rules, skip=st.integers(0, 3),
       layout=st.sampled_from(["string", "large_string", "dictionary", "chunked"]),
       weak=st.booleans())
def test_fast_path_equals_the_reference(rows, picks, extra, skip, layout, weak):
    matcher = Matcher(build_body(rules_for(rows, picks, extra)))
    with mock.patch.object(matching, "hash_strings", weak_hash if weak else hash_strings):
        batches = BatchMatcher(matcher)
        table = as_table(rows, layout)
        got = batches.rule_ids(table).tolist()
        sliced = batches.rule_ids(table.slice(skip)).tolist()  # offsets into shared buffers
    assert got == reference(matcher, rows)
    assert sliced == got[skip:]


def test_rows_are_attributed_to_the_broadest_rule():
    rules = [owner_rule("github.com", "octo"), repository_rule("github.com", "octo", "spoon"),
             file_rule("github.com", "octo", "spoon", "a.py"), content_rule("b" * 40),
             repository_rule("github.com", "jane", "site"),
             file_rule("github.com", "jane", "site", "a.py"), content_rule("c" * 40)]
    matcher = Matcher(build_body(rules))
    rows = [("github.com", "Octo", "spoon", "a.py", "b" * 40),
            ("github.com", "jane", "SITE", "a.py", "c" * 40),
            ("github.com", "jane", "blog", "a.py", "C" * 40),
            ("gitlab.com", "jane", "site", "a.py", "d" * 40)]
    got = BatchMatcher(matcher).rule_ids(as_table(rows, "string")).tolist()
    kinds = [matcher.rules[i]["kind"] if i >= 0 else None for i in got]
    assert kinds == ["owner", "repository", "content", None]
    assert got == reference(matcher, rows)


def test_default_host_and_repository_column_match_like_the_reference():
    rules = [repository_rule("example.org", "acme", "tool"), owner_rule("github.com", "acme")]
    matcher = Matcher(build_body(rules))
    data = pa.table({"repo": ["ACME/Tool", "acme/other", "acme", None, "x/y/z"],
                     "path": ["a"] * 5})
    columns = Columns(host=None, default_host="Example.ORG", repository="repo")
    got = BatchMatcher(matcher, columns).rule_ids(data).tolist()
    assert [matcher.rules[i] if i >= 0 else None for i in got] == [rules[0]] + [None] * 4


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=70)), min_size=1, max_size=30),
       st.integers(0, 5))
def test_a_string_hashes_the_same_wherever_it_sits(values, skip):
    array = pa.array(values, pa.string()).slice(min(skip, len(values) - 1))
    hashes = hash_strings(array)
    alone = [hash_strings(pa.array([v if v is not None else ""], pa.string()))[0]
             for v in array.to_pylist()]
    assert hashes.tolist() == [int(h) for h in alone]
    distinct = {v or "" for v in array.to_pylist() if len((v or "").encode()) <= 32}
    short = {int(h) for v, h in zip(array.to_pylist(), hashes, strict=True)
             if len((v or "").encode()) <= 32}
    assert len(short) == len(distinct)  # every byte of a short string is hashed


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.integers(-1, 50)), max_size=60),
       st.lists(st.integers(0, 60), max_size=30))
def test_hash_index_finds_every_key_and_proposes_every_position(entries, probes):
    # Odd keys only (0 is the empty slot); a value of -1 stands for NO_RULE here.
    keys = np.array([2 * k + 1 for k, _ in entries], dtype=np.uint64)
    values = np.array([v if v >= 0 else NO_RULE for _, v in entries], dtype=np.int64)
    index = HashIndex(keys, values)
    queries = np.array([2 * p + 1 for p in probes], dtype=np.uint64)
    found = index.find(queries)
    proposed: dict[int, set[int]] = {}
    for rows, positions in index.candidates(found):
        for r, p in zip(rows.tolist(), positions.tolist(), strict=True):
            proposed.setdefault(r, set()).add(p)
    for r, q in enumerate(queries.tolist()):
        stored = {v for k, v in entries if 2 * k + 1 == q}
        if not stored:
            assert found[r] == ABSENT and r not in proposed
        elif stored <= {-1}:
            assert found[r] == NO_RULE and r not in proposed
        else:
            assert found[r] != ABSENT and proposed[r] == {v for v in stored if v >= 0}


@pytest.mark.parametrize("size", [0, 1, 1000])
def test_hash_index_of_many_keys(size):
    rng = np.random.default_rng(size)
    keys = rng.integers(1, 2**63, size, dtype=np.uint64) | np.uint64(1)
    index = HashIndex(keys, np.arange(size))
    assert index.find(keys).tolist() == list(range(size))
    assert (index.find(keys + np.uint64(2)) == ABSENT).all()


@pytest.mark.parametrize("width", [8, 16, 24, 40, 64])
def test_strings_of_one_width_hash_as_in_a_mixed_array(width):
    values = [f"{n:0{width}x}"[-width:] for n in range(0, 10**6, 9973)]
    fixed = hash_strings(pa.array(values))  # one width: read as a matrix when it can
    mixed = hash_strings(pa.array(values + ["x"]))[:-1]  # the general path
    assert fixed.tolist() == mixed.tolist() and len(set(fixed.tolist())) == len(values)
