"""End to end: real git repositories, a list published by the server and pulled with the CLI,
``optout rebuild``, the catalog loaded into the server; then an opt-out and a second release."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from server.workflows import catalog
from shared import states
from shared.pii import Scanner
from tests.server.test_exclusions import OPTOUT, _keys, _publish
from tests.shared.rebuild_corpus import AWS_KEY, LEAKED_EMAIL, PUBLIC_EMAIL, SETTINGS, corpus

pytestmark = pytest.mark.slow

RELEASED_V1 = {
    ("github.com/alice/mitlib", "LICENSE"), ("github.com/alice/mitlib", "README.md"),
    ("github.com/alice/mitlib", "src/core.py"), ("github.com/alice/mitlib", "src/settings.py"),
    ("github.com/alice/mitlib", "src/util.py"),
    ("github.com/carol/scripts", "app.py"),
    ("github.com/dave/mitlib-fork", "src/dave.py"),
}
WHY_NOT_V1 = {
    ("github.com/alice/mitlib", "assets/logo.bin"): "binary",
    ("github.com/alice/mitlib", "contrib/gpl-tool/LICENSE"): "license_non_permissive",
    ("github.com/alice/mitlib", "contrib/gpl-tool/tool.py"): "license_non_permissive",
    ("github.com/alice/mitlib", "gen/api_pb2.py"): "generated",
    ("github.com/alice/mitlib", "vendor/jquery/jquery.min.js"): "vendored",
    ("github.com/bob/gplapp", "COPYING"): "license_non_permissive",
    ("github.com/bob/gplapp", "main.py"): "license_non_permissive",
    ("github.com/carol/scripts", "lib/core.py"): "near_duplicate",
    ("github.com/dave/mitlib-fork", "LICENSE"): "duplicate",
    ("github.com/dave/mitlib-fork", "src/util.py"): "duplicate",
    ("gitlab.com/erin/optout-me", "LICENSE"): "excluded_repository",
    ("gitlab.com/erin/optout-me", "erin.py"): "excluded_repository",
}


@pytest.fixture
def publisher(api, factory):
    return api(factory.user("publisher")[1])


def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([OPTOUT, *args], capture_output=True, text=True, timeout=300)
    if ok:
        assert done.returncode == 0, done.stderr
    return done


def pull(live_server, trust: Path, state: Path) -> None:
    run("exclusions", "pull", "--server", live_server, "--trust", str(trust),
        "--state", str(state))


def released(release: Path) -> dict[tuple[str, str], dict]:
    rows = {}
    for shard in sorted((release / "data").glob("*.parquet")):
        for row in pq.read_table(shard).to_pylist():
            rows[(f"{row['host']}/{row['owner']}/{row['name']}", row["path"])] = row
    return rows


def private(release: Path) -> Path:
    return release.with_name(f"{release.name}.private")


def statuses(release: Path) -> dict[tuple[str, str], str]:
    ledger = pq.read_table(private(release) / "ledger.parquet").to_pylist()
    return {(f"{r['host']}/{r['owner']}/{r['name']}", r["path"]): r["status"] for r in ledger}


def published_text(release: Path) -> str:
    """Everything in a release directory, as text (Parquet files as their rows in JSON)."""
    parts = []
    for path in sorted(p for p in release.rglob("*") if p.is_file()):
        parts.append(path.relative_to(release).as_posix())
        if path.suffix == ".parquet":
            parts.append(json.dumps(pq.read_table(path).to_pylist()))
        else:
            parts.append(path.read_text("utf-8"))
    return "\n".join(parts)


def named(text: str, owner: str, repository: str) -> bool:
    return any(n in text for n in (repository, f"/{owner}/", f'"{owner}"', f"/{owner}\""))


def false_positive_decision(path: Path) -> None:
    """A reviewer marked the project's public contact address a false positive."""
    findings = Scanner().scan_text(SETTINGS, "src/settings.py")
    public = [f for f in findings if SETTINGS[f.start:f.end] == PUBLIC_EMAIL]
    assert len(public) == 1
    path.write_text(json.dumps({"fingerprint": public[0].fingerprint, "rule": public[0].rule,
                                "decision": "false_positive"}) + "\n")


def releases_of(owner: str, host: str = "github.com") -> list[str]:
    return [r["name"] for r in catalog.lookup(host, owner)["releases"]]


def test_rebuild_applies_policy_exclusions_dedup_and_pii_then_an_opt_out_promotes_copies(
        live_server, factory, publisher, tmp_path):
    repos = corpus(tmp_path / "repos")
    factory.request("repository", states.APPROVED, host="gitlab.com", owner="erin",
                    name="optout-me")
    assert _publish(publisher, expires_days=7)["rules"] == 1
    trust, state = tmp_path / "optout.pub", tmp_path / "state"
    trust.write_text(_keys(live_server)["current"] + "\n")

    # No verified list, no build: nothing is written.
    refused = run("rebuild", str(tmp_path / "repos"), "--out", str(tmp_path / "v0"),
                  "--release", "v0", "--list", str(state), "--trust", str(trust), ok=False)
    assert refused.returncode == 12 and "nothing built" in refused.stderr
    assert not (tmp_path / "v0").exists()

    pull(live_server, trust, state)
    decisions = tmp_path / "decisions.jsonl"
    false_positive_decision(decisions)
    common = ["--list", str(state), "--trust", str(trust), "--pii-decisions", str(decisions),
              "--shards", "4", "--json"]
    v1 = tmp_path / "releases" / "v1"
    summary = json.loads(run("rebuild", str(tmp_path / "repos"), "--out", str(v1),
                             "--release", "v1", "--work", str(tmp_path / "work"),
                             *common).stdout)
    assert summary["totals"]["released_files"] == len(RELEASED_V1)

    # Exactly what the policy, the list and deduplication allow, each drop with its reason.
    rows = released(v1)
    assert set(rows) == RELEASED_V1
    assert {k: v for k, v in statuses(v1).items() if v != "released"} == WHY_NOT_V1
    settings = rows[("github.com/alice/mitlib", "src/settings.py")]
    assert AWS_KEY not in settings["content"] and LEAKED_EMAIL not in settings["content"]
    assert '"<KEY>"' in settings["content"] and PUBLIC_EMAIL in settings["content"]
    assert settings["redactions"] == 2
    assert settings["content_sha256"] == hashlib.sha256(settings["content"].encode()).hexdigest()
    alice = repos["alice"]
    for (repo, path), row in rows.items():
        if repo == "github.com/alice/mitlib":
            blob = subprocess.run(["git", "-C", str(alice), "hash-object", path],
                                  capture_output=True, text=True, check=True).stdout.strip()
            assert row["blob_id"] == blob and row["swhid"] == f"swh:1:cnt:{blob}"
            tree = subprocess.run(["git", "-C", str(alice), "rev-parse", "HEAD^{tree}"],
                                  capture_output=True, text=True, check=True).stdout.strip()
            assert row["directory_swhid"] == f"swh:1:dir:{tree}"
    assert rows[("github.com/carol/scripts", "app.py")]["license_type"] == "no_license"
    assert rows[("github.com/alice/mitlib", "src/util.py")]["cluster_size"] == 2

    # The manifest names every shard with its hash and rows, and the list, policy and config.
    manifest = json.loads((v1 / "manifest.json").read_text())
    assert sum(s["rows"] for s in manifest["shards"]) == len(RELEASED_V1)
    for shard in manifest["shards"]:
        data = (v1 / shard["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == shard["sha256"]
        assert pq.read_metadata(v1 / shard["path"]).num_rows == shard["rows"]
    note = next((state / "lists").glob("*/manifest.note")).read_bytes()
    assert manifest["exclusion_list"]["manifest_sha256"] == hashlib.sha256(note).hexdigest()
    assert manifest["exclusion_list"]["version"] == 1
    assert len(manifest["policy"]["sha256"]) == len(manifest["config"]["sha256"]) == 64
    assert manifest["pii"]["false_positives"] == 1

    # The same inputs give byte-identical shards, from scratch in another directory.
    again = tmp_path / "again"
    run("rebuild", str(tmp_path / "repos"), "--out", str(again), "--release", "v1", *common)
    for shard in manifest["shards"]:
        assert (again / shard["path"]).read_bytes() == (v1 / shard["path"]).read_bytes()

    # "Am I in the dataset?" reflects the catalog the release wrote.
    with open(v1 / "catalog.jsonl", "rb") as handle:
        loaded = catalog.load_catalog(handle)
    assert loaded["releases"][0]["repositories"] == 3
    assert releases_of("alice") == ["v1"] and releases_of("erin", "gitlab.com") == []

    # Alice opts out her whole account: version 2 of the list, a second release.
    factory.request("owner", states.APPROVED, owner="alice")
    _publish(publisher, expires_days=7)
    pull(live_server, trust, state)
    v2 = tmp_path / "releases" / "v2"
    summary = json.loads(run("rebuild", str(tmp_path / "repos"), "--out", str(v2),
                             "--release", "v2", "--previous", str(v1),
                             "--work", str(tmp_path / "work"), *common).stdout)
    assert summary["reused"] == {"annotated_inputs": 5, "clusters": True}
    assert summary["exclusion_list"]["version"] == 2
    assert summary["shards"]["previous_release"] >= 1  # shards without alice are copied

    rows = released(v2)
    promoted = {("github.com/dave/mitlib-fork", "src/util.py"),
                ("github.com/dave/mitlib-fork", "LICENSE"),
                ("github.com/carol/scripts", "lib/core.py")}
    kept = {k for k in RELEASED_V1 if not k[0].startswith("github.com/alice/")}
    assert set(rows) == kept | promoted
    log = json.loads((private(v2) / "changelog.json").read_text())
    assert (log["from"], log["to"]) == ("v1", "v2")
    assert log["repositories"]["removed"] == [
        {"repository": "github.com/alice/mitlib", "why": {"excluded_owner": 5}}]
    assert log["repositories"]["added"] == []
    assert {(e["repository"], e["path"]): e["why"] for e in log["files"]["added"]} == dict.fromkeys(
        promoted, "promoted")
    assert {(e["repository"], e["path"]): e["why"] for e in log["files"]["removed"]} == {
        k: "excluded_owner" for k in RELEASED_V1 if k[0] == "github.com/alice/mitlib"}
    v2_manifest = json.loads((v2 / "manifest.json").read_text())
    assert v2_manifest["previous"] == {
        "release": "v1",
        "manifest_sha256": hashlib.sha256((v1 / "manifest.json").read_bytes()).hexdigest()}

    # What may be published names no opted-out repository (erin was excluded from v1 on,
    # alice from v2 on); the builders' private directory names both, as the changelog must.
    assert sorted(p.name for p in v2.iterdir()) == ["catalog.jsonl", "data", "manifest.json"]
    assert not named(published_text(v1), "erin", "erin/optout-me")
    assert named(published_text(v1), "alice", "alice/mitlib")  # released then: the check bites
    for owner, repository in (("alice", "alice/mitlib"), ("erin", "erin/optout-me")):
        assert not named(published_text(v2), owner, repository)
        assert named(published_text(private(v2)), owner, repository)
    assert v2_manifest["private_files"]["ledger.parquet"]["sha256"] == hashlib.sha256(
        (private(v2) / "ledger.parquet").read_bytes()).hexdigest()

    with open(v2 / "catalog.jsonl", "rb") as handle:
        catalog.load_catalog(handle)
    assert releases_of("alice") == ["v1"] and sorted(releases_of("dave")) == ["v1", "v2"]
