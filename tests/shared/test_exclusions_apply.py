"""``optout exclusions apply``: exactly the covered rows go, shards are atomic, it fails closed."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from server.cli_exclusions import exclusions
from shared.exclusions import apply as apply_module
from shared.exclusions.apply import BatchMatcher, Columns, Report, apply_shard
from shared.exclusions.format import (
    Matcher,
    build_body,
    content_rule,
    file_rule,
    new_salt,
    owner_rule,
    repository_rule,
)
from shared.exclusions.manifest import build_manifest, sign_manifest
from shared.exclusions.pull import _save
from shared.note import Checkpoint, Signer, sign_checkpoint

BLOB = "a" * 40
RULES = [
    owner_rule("github.com", "Acme"),
    repository_rule("github.com", "octo", "Spoon"),
    file_rule("gitlab.com", "jane", "site", "cfg/.env"),
    content_rule(BLOB),
]
# (host, owner, name, path, blob_id, excluded by rule index or None)
ROWS = [
    ("github.com", "acme", "one", "a.py", "1" * 40, 0),
    ("GitHub.com", "ACME", "two", "b.py", "2" * 40, 0),  # case-insensitive host and owner
    ("gitlab.com", "acme", "one", "a.py", "3" * 40, None),  # another host
    ("github.com", "Octo", "SPOON", "x.py", "4" * 40, 1),
    ("github.com", "octo", "fork", "x.py", "5" * 40, None),
    ("gitlab.com", "jane", "site", "cfg/.env", "6" * 40, 2),
    ("gitlab.com", "jane", "site", "cfg/.ENV", "7" * 40, None),  # paths are case-sensitive
    ("gitlab.com", "jane", "site", "README", "8" * 40, None),
    ("bitbucket.org", "x", "y", "copy.py", BLOB.upper(), 3),  # the same blob anywhere
    ("bitbucket.org", "x", "y", "z.py", "swh:1:cnt:" + BLOB, 3),
    ("github.com", None, "y", "z.py", "9" * 40, None),
]
NOW = datetime.now(UTC)


def make_state(tmp_path: Path, rules=RULES, *, salt=None, days=30, issued=None) -> tuple:
    key = Signer("optout.example/exclusions", Ed25519PrivateKey.generate())
    log = Signer("optout.example/log", Ed25519PrivateKey.generate())
    issued = issued or NOW - timedelta(hours=1)
    body = build_body(rules, salt=salt)
    manifest = build_manifest(
        body, version=1, issued=issued.replace(microsecond=0),
        expires=(issued + timedelta(days=days)).replace(microsecond=0), prev_note=None,
        checkpoint=sign_checkpoint(Checkpoint("optout.example/log", 1, b"\x07" * 32), [log]),
        salt=salt)
    note = sign_manifest(manifest, [key])
    state = tmp_path / "state"
    _save(state, manifest, note, body, None)
    trust = tmp_path / "trust.pub"
    trust.write_text(str(key.verifier) + "\n")
    return state, trust


def table(rows=ROWS) -> pa.Table:
    names = ["host", "owner", "name", "path", "blob_id"]
    return pa.table({n: pa.array([r[i] for r in rows], pa.string()) for i, n in enumerate(names)}
                    | {"content": pa.array([f"text {i}" for i in range(len(rows))])})


def kept(rows=ROWS):
    return [f"text {i}" for i, r in enumerate(rows) if r[5] is None]


def run(state, trust, *args):
    result = CliRunner().invoke(
        exclusions, ["apply", "--list", str(state), "--trust", str(trust), *map(str, args)])
    return result


@pytest.mark.parametrize("salt", [None, new_salt()], ids=["plain", "privacy"])
def test_exactly_the_covered_rows_go_parquet(tmp_path, salt):
    state, trust = make_state(tmp_path, salt=salt)
    pq.write_table(table(), tmp_path / "shard-0.parquet")
    result = run(state, trust, tmp_path / "shard-0.parquet", "--out", tmp_path / "out",
                 "--report", tmp_path / "report.json")
    assert result.exit_code == 0, result.output
    out = pq.read_table(tmp_path / "out" / "shard-0.parquet")
    assert out.schema == table().schema
    assert out["content"].to_pylist() == kept()
    report = json.loads((tmp_path / "report.json").read_text())
    by_rule = {json.dumps(e["rule"], sort_keys=True): e["rows"] for e in report["removed_by_rule"]}
    matcher = Matcher(build_body(RULES, salt=salt), salt)
    expected = {}
    for row in ROWS:
        rule = matcher.excluded(row[0], row[1] or "", row[2], row[3], row[4]) if row[1] else None
        if rule:
            expected[json.dumps(rule, sort_keys=True)] = expected.get(
                json.dumps(rule, sort_keys=True), 0) + 1
    assert by_rule == expected and sum(expected.values()) == 6
    assert report["totals"] == {"rows_in": 11, "rows_out": 5, "rows_removed": 6}
    assert report["shards"][0]["rows_in"] == 11 and report["rules"] == 4


@pytest.mark.parametrize("salt", [None, new_salt()], ids=["plain", "privacy"])
def test_agrees_with_matcher_row_by_row(salt):
    rng = np.random.default_rng(7)
    owners = [f"Owner{i}" for i in range(30)]
    rows = []
    for _ in range(3000):
        owner = owners[rng.integers(30)]
        rows.append(("github.com", owner, f"repo{rng.integers(20)}", f"src/f{rng.integers(5)}.py",
                     f"{rng.integers(200):040x}", None))
    rules = ([owner_rule("github.com", o) for o in owners[:3]]
             + [repository_rule("github.com", o, "repo1") for o in owners[3:10]]
             + [file_rule("github.com", o, "repo2", "src/f1.py") for o in owners[10:20]]
             + [content_rule(f"{n:040x}") for n in range(0, 200, 9)])
    matcher = Matcher(build_body(rules, salt=salt), salt)
    ids = BatchMatcher(matcher).rule_ids(table(rows))
    assert (ids >= 0).sum() > 300
    for row, got in zip(rows, ids, strict=True):
        want = matcher.excluded(*row[:5])
        assert (matcher.rules[got] if got >= 0 else None) == want


def test_jsonl_and_gzip_keep_lines_byte_for_byte(tmp_path):
    state, trust = make_state(tmp_path)
    lines = [json.dumps({"blob_id": r[4], "host": r[0], "owner": r[1], "name": r[2],
                         "path": r[3], "extra": {"n": i}}, separators=(",", ":"))
             for i, r in enumerate(ROWS)]
    (tmp_path / "a.jsonl").write_text("\n".join(lines) + "\n\n")
    with gzip.open(tmp_path / "b.jsonl.gz", "wt") as handle:
        handle.write("\n".join(lines))  # no final newline
    result = run(state, trust, tmp_path / "a.jsonl", tmp_path / "b.jsonl.gz", "--out",
                 tmp_path / "out")
    assert result.exit_code == 0, result.output
    want = "".join(line + "\n" for line, r in zip(lines, ROWS, strict=True) if r[5] is None)
    assert (tmp_path / "out" / "a.jsonl").read_text() == want
    with gzip.open(tmp_path / "out" / "b.jsonl.gz", "rt") as handle:
        assert handle.read() == want


def test_multi_batch_and_empty_shards(tmp_path, monkeypatch):
    monkeypatch.setattr(apply_module, "BATCH_ROWS", 4)
    monkeypatch.setattr(apply_module, "JSONL_BLOCK", 100)
    state, trust = make_state(tmp_path)
    pq.write_table(table(ROWS * 3), tmp_path / "big.parquet", row_group_size=5)
    pq.write_table(table([]), tmp_path / "empty.parquet")
    (tmp_path / "empty.jsonl").write_text("")
    lines = [json.dumps({"host": r[0], "owner": r[1], "name": r[2], "path": r[3],
                         "blob_id": r[4]}) for r in ROWS * 3]
    (tmp_path / "big.jsonl").write_text("\n".join(lines) + "\n")
    result = run(state, trust, tmp_path / "big.parquet", tmp_path / "empty.parquet",
                 tmp_path / "empty.jsonl", tmp_path / "big.jsonl", "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert pq.read_table(tmp_path / "out" / "big.parquet")["content"].to_pylist() == [
        t for t in table(ROWS * 3)["content"].to_pylist()
        if ROWS[int(t.split()[1]) % len(ROWS)][5] is None]
    assert pq.read_table(tmp_path / "out" / "empty.parquet").num_rows == 0
    assert (tmp_path / "out" / "empty.jsonl").read_bytes() == b""
    assert len((tmp_path / "out" / "big.jsonl").read_text().splitlines()) == 15
    report = json.loads(result.stdout[result.stdout.index("{"):])
    assert report["totals"] == {"rows_in": 66, "rows_out": 30, "rows_removed": 36}


def test_a_failure_midway_leaves_no_partial_output(tmp_path, monkeypatch):
    monkeypatch.setattr(apply_module, "BATCH_ROWS", 2)
    state, trust = make_state(tmp_path)
    pq.write_table(table(), tmp_path / "s.parquet")
    matcher = BatchMatcher(Matcher(build_body(RULES)))
    calls = []
    original = matcher.rule_ids

    def failing(batch):
        calls.append(1)
        if len(calls) == 3:
            raise OSError("disk full")
        return original(batch)

    matcher.rule_ids = failing
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(OSError):
        apply_shard(matcher, tmp_path / "s.parquet", out / "s.parquet", Report())
    assert list(out.iterdir()) == []


def test_repository_column_and_default_host(tmp_path):
    state, trust = make_state(tmp_path)
    data = pa.table({"repo_full_name": ["ACME/x", "octo/spoon", "octo/fork", "noslash", None],
                     "path": ["a"] * 5, "blob_id": ["0" * 40] * 5})
    pq.write_table(data, tmp_path / "r.parquet")
    result = run(state, trust, tmp_path / "r.parquet", "--out", tmp_path / "out",
                 "--repository-column", "repo_full_name", "--host-column", "",
                 "--default-host", "github.com")
    assert result.exit_code == 0, result.output
    assert pq.read_table(tmp_path / "out" / "r.parquet")["repo_full_name"].to_pylist() == [
        "octo/fork", "noslash", None]


def test_missing_column_is_a_usage_error(tmp_path):
    state, trust = make_state(tmp_path)
    pq.write_table(table().drop_columns(["blob_id"]), tmp_path / "s.parquet")
    result = run(state, trust, tmp_path / "s.parquet", "--out", tmp_path / "out")
    assert result.exit_code == 2 and "missing column(s) blob_id" in result.output
    assert not (tmp_path / "out").exists()
    # Without content rules the content column is not needed.
    state, trust = make_state(tmp_path / "b", RULES[:3])
    result = run(state, trust, tmp_path / "s.parquet", "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("case", ["missing", "expired", "tampered", "wrong_key"])
def test_fails_closed_and_writes_nothing(tmp_path, case):
    pq.write_table(table(), tmp_path / "s.parquet")
    if case == "missing":
        _, trust = make_state(tmp_path / "other")
        state, code = tmp_path / "nothing", 12
    elif case == "expired":
        state, trust = make_state(tmp_path, days=1, issued=NOW - timedelta(days=2))
        code = 7
    elif case == "tampered":
        state, trust = make_state(tmp_path)
        body = state / "lists" / "1" / "body.jsonl"
        data = bytearray(body.read_bytes())
        data[10] ^= 1
        body.write_bytes(bytes(data))
        code = 8
    else:
        state, _ = make_state(tmp_path)
        _, trust = make_state(tmp_path / "other")
        code = 4
    result = run(state, trust, tmp_path / "s.parquet", "--out", tmp_path / "out")
    assert result.exit_code == code, result.output
    assert "nothing written" in result.output
    assert not (tmp_path / "out").exists()


def test_columns_required_follow_the_rule_kinds():
    assert Columns().required(Matcher(build_body(RULES[:2]))) == ["host", "owner", "name"]
