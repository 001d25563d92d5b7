"""shared/rebuild: identities against git, table inputs, deduplication, resumable shards."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shared.exclusions.format import Matcher, build_body, content_rule, file_rule
from shared.exclusions.pull import StateError
from shared.licenses.policy import DEFAULT_POLICY, Policy
from shared.rebuild import (
    ExclusionList,
    InputError,
    RebuildConfig,
    RebuildError,
    discover,
    load_exclusions,
    rebuild,
)
from shared.rebuild.config import ConfigError
from shared.rebuild.dedup import near_clusters, shingles, signatures
from shared.rebuild.identity import blob_sha1, parse_swhid, plain_directory_swhid
from shared.rebuild.inputs import identity_from_remote
from tests.shared.rebuild_corpus import MIT, git, make_repo, module

NO_RULES = ExclusionList(Matcher(b""), 1, "0" * 64, "0" * 64)


def exclusions(*rules) -> ExclusionList:
    return ExclusionList(Matcher(build_body(rules)), 2, "1" * 64, "2" * 64)


@pytest.mark.parametrize("data", [b"", b"hello\n", "héllo wörld\n".encode(), b"\x00\x01\xff" * 99])
def test_blob_ids_equal_git_hash_object(tmp_path, data):
    path = tmp_path / "f"
    path.write_bytes(data)
    expected = subprocess.run(["git", "hash-object", str(path)], capture_output=True, text=True,
                              check=True).stdout.strip()
    assert blob_sha1(data) == expected


def test_plain_directory_swhid_equals_the_git_tree_of_the_same_files(tmp_path):
    repo = make_repo(tmp_path, "https://github.com/o/r", {
        "a.txt": "a\n", "src/b.py": "print(1)\n", "src/deep/c.md": "# c\n"}, when=1)
    (repo / "run.sh").write_text("#!/bin/sh\n")
    (repo / "run.sh").chmod(0o755)
    git(repo, "add", "run.sh")
    git(repo, "commit", "-q", "-m", "exec")
    tree = git(repo, "rev-parse", "HEAD^{tree}").strip()
    subprocess.run(["rm", "-rf", str(repo / ".git")], check=True)
    assert plain_directory_swhid(repo) == f"swh:1:dir:{tree}"


def test_swhids_parse_strictly():
    blob = "a" * 40
    assert parse_swhid(f"swh:1:cnt:{blob}") == parse_swhid(blob.upper()) == blob
    assert parse_swhid(f"swh:1:cnt:{blob};origin=https://x") == blob
    for bad in ("swh:1:dir:" + blob, "swh:1:cnt:abc", "nope"):
        with pytest.raises(ValueError):
            parse_swhid(bad)


@pytest.mark.parametrize(("url", "expected"), [
    ("https://github.com/Octo/Spoon.git", "github.com/Octo/Spoon"),
    ("git@gitlab.com:group/sub/proj.git", "gitlab.com/group/sub/proj"),
    ("ssh://git@bitbucket.org:22/team/app", "bitbucket.org/team/app"),
    ("https://github.com/solo", None),
])
def test_identities_from_remote_urls(url, expected):
    found = identity_from_remote(url, "here")
    assert (str(found) if found else None) == expected


def stack_table(rows: list[tuple[str, str, str]], **extra) -> pa.Table:
    return pa.table({"repo_name": [r[0] for r in rows], "path": [r[1] for r in rows],
                     "content": [r[2] for r in rows], **extra})


def test_table_inputs_in_the_stacks_shape(tmp_path):
    code = module("shared_code")
    rows = [("acme/tools", "LICENSE", MIT), ("acme/tools", "a.py", code),
            ("acme/tools", "b.py", "x = 1\n"), ("zed/app", "main.go", "package main\n"),
            ("zed/app", "copy.py", code)]
    given = [None, blob_sha1(code.encode()), "f" * 40, None, None]
    pq.write_table(stack_table(rows, blob_id=given, stars=[5, 5, 5, 50, 50]),
                   tmp_path / "part.parquet")
    jsonl = tmp_path / "more.jsonl"
    jsonl.write_text(json.dumps({"repository": "yolo/one", "path": "x.js", "content": "var a;\n",
                                 "host": "GitLab.com"}) + "\n")
    result = rebuild(discover([tmp_path / "part.parquet", jsonl]), tmp_path / "r", "t1",
                     NO_RULES, config=RebuildConfig(shards=2))
    ledger = {(r["repo_key"], r["path"]): r for r in pq.read_table(
        tmp_path / "r.private" / "ledger.parquet").to_pylist()}
    assert ledger[("github.com/acme/tools", "b.py")]["status"] == "blob_id_mismatch"
    assert ledger[("github.com/zed/app", "main.go")]["language"] == "Go"
    assert ledger[("gitlab.com/yolo/one", "x.js")]["status"] == "released"
    # Exact copies: the MIT one wins over the unlicensed one despite zed's 50 stars.
    assert ledger[("github.com/zed/app", "copy.py")]["status"] == "duplicate"
    assert ledger[("github.com/zed/app", "copy.py")]["detail"] == "github.com/acme/tools/a.py"
    assert result.manifest["totals"]["repositories"] == 3


@pytest.mark.parametrize(("table", "message"), [
    (pa.table({"repo_name": ["a/b"], "content": ["x"]}), "'path' and 'content'"),
    (pa.table({"path": ["p"], "content": ["x"]}), "repo_name"),
    (pa.table({"repo_name": ["nobody"], "path": ["p"], "content": ["x"]}), "no owner/name"),
    (pa.table({"repo_name": ["a/b c"], "path": ["p"], "content": ["x"]}), "repository name"),
    (pa.table({"repo_name": ["a/b"], "path": ["p"], "content": ["x"], "swhid": ["swh:1:dir:"
                                                                              + "0" * 40]}),
     "swh:1:cnt"),
    (pa.table({"repo_name": ["a/b"], "path": ["src/../../etc/passwd"], "content": ["x"]}),
     r"bad\.parquet: github\.com/a/b: not a relative file path: 'src/\.\./\.\./etc/passwd'"),
])
def test_bad_tables_are_refused_with_a_clear_message(tmp_path, table, message):
    pq.write_table(table, tmp_path / "bad.parquet")
    with pytest.raises(InputError, match=message):
        rebuild(discover([tmp_path / "bad.parquet"]), tmp_path / "r", "t", NO_RULES)
    assert not (tmp_path / "r" / "manifest.json").exists()


def test_bad_inputs_and_settings(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        discover([tmp_path / "missing"])
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InputError, match="not a table"):
        discover([tmp_path / "notes.txt"])
    rows = stack_table([("a/b", "x.py", "x = 1\n")])
    pq.write_table(rows, tmp_path / "one.parquet")
    pq.write_table(rows, tmp_path / "two.parquet")
    with pytest.raises(InputError, match="in two inputs"):
        rebuild(discover([tmp_path / "one.parquet", tmp_path / "two.parquet"]),
                tmp_path / "r", "t", NO_RULES)
    with pytest.raises(RebuildError, match="release name"):
        rebuild([], tmp_path / "r", "bad name", NO_RULES)
    with pytest.raises(RebuildError, match="not a release"):
        rebuild([], tmp_path / "r", "t", NO_RULES, previous=tmp_path)
    for private in (tmp_path / "r", tmp_path / "r" / "private"):
        with pytest.raises(RebuildError, match="private directory cannot be"):
            rebuild([], tmp_path / "r", "t", NO_RULES, private=private)
    rebuild([], tmp_path / "v1", "v1", NO_RULES, private=tmp_path / "elsewhere")
    with pytest.raises(RebuildError, match="--previous-private"):
        rebuild([], tmp_path / "v2", "v2", NO_RULES, previous=tmp_path / "v1")
    with pytest.raises(RebuildError, match="cannot be this one's"):
        rebuild([], tmp_path / "v2", "v2", NO_RULES, previous=tmp_path / "v1",
                previous_private=tmp_path / "elsewhere", private=tmp_path / "elsewhere")
    rebuild([], tmp_path / "v2", "v2", NO_RULES, previous=tmp_path / "v1",
            previous_private=tmp_path / "elsewhere")
    assert (tmp_path / "v2.private" / "changelog.json").is_file()
    for bad in ({"jaccard_threshold": 1.5}, {"shards": 0}, {"pii_sensitivity": 4},
                {"tokenizer": "whitespace"}):
        with pytest.raises(ConfigError):
            RebuildConfig(**bad)
    with pytest.raises(ConfigError, match="unknown setting"):
        RebuildConfig().with_changes(colour="blue")


def test_no_verified_list_no_build(tmp_path):
    with pytest.raises(StateError):
        load_exclusions(tmp_path / "state", ["key+00000000+AAAA"])


def test_list_file_names_plain_directories(tmp_path):
    folder = tmp_path / "checkout"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "main.rs").write_text("fn main() {}\n")
    (folder / "LICENSE").write_text(MIT)
    listing = tmp_path / "inputs.txt"
    listing.write_text("# one per line\ncheckout codeberg.org/Ann/thing\n")
    result = rebuild(discover([], list_file=listing), tmp_path / "r", "t", NO_RULES,
                     config=RebuildConfig(shards=1))
    row = pq.read_table(tmp_path / "r" / "data" / "part-00000-of-00001.parquet").to_pylist()
    assert [(r["host"], r["owner"], r["name"], r["path"]) for r in row] == [
        ("codeberg.org", "Ann", "thing", "LICENSE"), ("codeberg.org", "Ann", "thing",
                                                      "src/main.rs")]
    assert row[1]["language"] == "Rust" and row[1]["license_type"] == "permissive"
    assert row[1]["directory_swhid"] == plain_directory_swhid(folder)
    assert result.manifest["totals"]["released_files"] == 2
    listing.write_text("checkout too many fields here\n")
    with pytest.raises(InputError, match="PATH"):
        discover([], list_file=listing)


def test_shingles_use_the_pinned_tokenizer():
    assert shingles(b"a.b(c, d)+e;f", 5) == {b"a b c d e", b"b c d e f"}
    assert shingles(b"too short", 5) == set()


def test_near_duplicates_cluster_per_language_under_the_smallest_blob():
    config = RebuildConfig()
    base = module("base").encode()
    near = module("base", variant="tweaked").encode()
    other = module("other").encode()
    sig = dict(zip("abc", signatures([base, near, other], config), strict=True))
    ids = {"a": "3" * 40, "b": "1" * 40, "c": "2" * 40}
    found = near_clusters({"Python": [(ids[k], sig[k]) for k in "abc"]}, config)
    assert found == {ids["a"]: ids["b"], ids["b"]: ids["b"], ids["c"]: ids["c"]}
    split = near_clusters({"Python": [(ids["a"], sig["a"])], "Ruby": [(ids["b"], sig["b"])]},
                          config)
    assert split == {ids["a"]: ids["a"], ids["b"]: ids["b"]}


def test_signatures_are_the_same_with_worker_processes():
    config = RebuildConfig()
    docs = [module(f"m{i % 7}", variant=str(i)).encode() for i in range(2100)]
    single = signatures(docs, config)
    assert signatures(docs, config, workers=2) == single
    assert all(len(s) == 4 * config.num_perm for s in single)


def _table_corpus(path: Path) -> None:
    rows = [(f"own{i % 5}/repo{i % 9}", f"src/f{i}.py", module(f"m{i}", lines=3))
            for i in range(60)]
    rows += [("own0/repo0", "LICENSE", MIT)]
    pq.write_table(stack_table(rows), path)


def test_completed_shards_are_not_redone_and_rewrites_are_identical(tmp_path):
    _table_corpus(tmp_path / "in.parquet")
    config = RebuildConfig(shards=4)
    out = tmp_path / "release"
    first = rebuild(discover([tmp_path / "in.parquet"]), out, "r1", NO_RULES, config=config)
    assert first.shards_reused == {} and first.scans_reused == 0
    shards = {s["path"]: (out / s["path"]).read_bytes() for s in first.manifest["shards"]}
    victim, corrupt = sorted(shards)[:2]
    (out / victim).unlink()
    (out / corrupt).write_bytes(b"torn write")
    again = rebuild(discover([tmp_path / "in.parquet"]), out, "r1", NO_RULES, config=config)
    assert again.shards_reused == {"this_release": 2}
    assert again.scans_reused == 1 and again.clusters_reused
    assert {p: (out / p).read_bytes() for p in shards} == shards
    assert again.manifest == first.manifest


def test_exclusions_by_file_and_content_promote_the_next_copy(tmp_path):
    code = module("copied")
    rows = [("alpha/one", "LICENSE", MIT), ("alpha/one", "lib.py", code),
            ("beta/two", "LICENSE", MIT), ("beta/two", "vendorless/lib.py", code),
            ("gamma/three", "lib.py", code)]
    pq.write_table(stack_table(rows), tmp_path / "in.parquet")
    sources = discover([tmp_path / "in.parquet"])
    first = rebuild(sources, tmp_path / "a", "a", NO_RULES)
    assert first.drops["duplicate"] == 3  # two copies of code, one of the MIT text
    ruled = exclusions(file_rule("github.com", "alpha", "one", "lib.py"))
    second = rebuild(sources, tmp_path / "b", "b", ruled, previous=tmp_path / "a",
                     work=tmp_path / "a.private" / "work")
    log = json.loads((tmp_path / "b.private" / "changelog.json").read_text())
    assert [(e["repository"], e["path"], e["why"]) for e in log["files"]["added"]] == [
        ("github.com/beta/two", "vendorless/lib.py", "promoted")]
    assert [(e["repository"], e["why"]) for e in log["files"]["removed"]] == [
        ("github.com/alpha/one", "excluded_file")]
    lines = (tmp_path / "b.private" / "changelog.json").read_text().splitlines()
    promoted = {"blob_id": blob_sha1(code.encode()), "path": "vendorless/lib.py",
                "repository": "github.com/beta/two", "why": "promoted"}
    assert "   " + json.dumps(promoted) in lines  # one entry per line
    assert second.clusters_reused
    gone = exclusions(content_rule(blob_sha1(code.encode())))
    third = rebuild(sources, tmp_path / "c", "c", gone, previous=tmp_path / "b")
    assert third.drops["excluded_content"] == 3 and "duplicate" in third.drops


def test_a_policy_that_refuses_unlicensed_code(tmp_path):
    pq.write_table(stack_table([("a/licensed", "LICENSE", MIT), ("a/licensed", "x.py", "x=1\n"),
                                ("b/bare", "y.py", "y=2\n")]), tmp_path / "in.parquet")
    strict = Policy(name="strict", version="1", admit_no_license=False)
    seen = []

    def progress(label, total):
        seen.append(label)
        import contextlib

        return contextlib.nullcontext(lambda n: None)

    result = rebuild(discover([tmp_path / "in.parquet"]), tmp_path / "r", "r", NO_RULES,
                     policy=strict, progress=progress)
    assert result.drops == {"license_no_license": 1}
    assert result.manifest["policy"]["name"] == "strict"
    assert result.manifest["policy"]["sha256"] != rebuild(
        discover([tmp_path / "in.parquet"]), tmp_path / "r2", "r", NO_RULES,
        policy=DEFAULT_POLICY).manifest["policy"]["sha256"]
    assert "PII redaction, shards" in seen and "read, annotate" in seen


def test_language_selection_and_size_limit(tmp_path):
    pq.write_table(stack_table([("a/b", "x.py", "x = 1\n"), ("a/b", "y.go", "package y\n"),
                                ("a/b", "big.py", "z = 1\n" * 100), ("a/b", "blob.xyzzy", "?")]),
                   tmp_path / "in.parquet")
    result = rebuild(discover([tmp_path / "in.parquet"]), tmp_path / "r", "r", NO_RULES,
                     config=RebuildConfig(languages=("Python",), max_file_bytes=100))
    assert result.drops == {"language_not_selected": 1, "too_large": 1, "unknown_language": 1}
