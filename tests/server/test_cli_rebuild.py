"""``optout rebuild`` on bad input: one line on stderr, a stable exit code, nothing built."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from server.cli_rebuild import rebuild
from tests.shared.test_exclusions_pull import NOW, Publisher, Server
from tests.shared.test_exclusions_pull import run as pull_list


@pytest.fixture
def state(tmp_path):
    """A verified list (pulled from a loopback server) and its trust file."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from shared.exclusions.format import repository_rule
    from shared.note import Signer

    server = Server()
    key = Signer("optout.example/exclusions", Ed25519PrivateKey.generate())
    Publisher(server, key).publish(1, [repository_rule("github.com", "gone", "repo")],
                                   issued=NOW, days=3650)
    pull_list(server, key, tmp_path / "state")
    server.close()
    (tmp_path / "trust.pub").write_text(str(key.verifier) + "\n")
    return tmp_path / "state", tmp_path / "trust.pub"


@pytest.fixture
def table(tmp_path):
    path = tmp_path / "in.parquet"
    pq.write_table(pa.table({"repo_name": ["a/b", "gone/repo"], "path": ["x.py", "y.py"],
                             "content": ["x = 1\n", "y = 2\n"]}), path)
    return path


def invoke(*args):
    return CliRunner().invoke(rebuild, [str(a) for a in args])


def test_builds_and_reports(state, table, tmp_path):
    result = invoke(table, "--out", tmp_path / "r", "--release", "r1", "--list", state[0],
                    "--trust", state[1], "--shards", "2")
    assert result.exit_code == 0, result.output
    assert "release r1: 1 of 2 files from 1 repositories in 2 shards" in result.output
    assert "excluded_repository" in result.output
    assert f"not for publishing: {tmp_path / 'r.private'}" in result.output
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == [
        "catalog.jsonl", "data", "manifest.json"]
    assert {"changelog.json", "clusters.parquet", "inputs.json", "ledger.parquet", "state",
            "work"} == {p.name for p in (tmp_path / "r.private").iterdir()}


def test_private_outputs_go_where_asked_never_inside_the_release(state, table, tmp_path):
    common = [table, "--release", "r1", "--list", state[0], "--trust", state[1]]
    result = invoke(*common, "--out", tmp_path / "r", "--private", tmp_path / "r" / "mine")
    assert result.exit_code == 2 and "private directory cannot be" in result.output
    assert not (tmp_path / "r" / "manifest.json").exists()
    result = invoke(*common, "--out", tmp_path / "r", "--private", tmp_path / "keep")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "keep" / "ledger.parquet").is_file()
    result = invoke(*common, "--out", tmp_path / "r2", "--previous", tmp_path / "r")
    assert result.exit_code == 2 and "--previous-private" in result.output
    result = invoke(*common, "--out", tmp_path / "r2", "--previous", tmp_path / "r",
                    "--previous-private", tmp_path / "keep")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(("extra", "message"), [
    (["--release", "bad name"], "release name"),
    (["--config", "{config}"], "not JSON"),
    (["--policy", "{policy}"], "at least 'name' and 'version'"),
    (["--pii-decisions", "{decisions}"], "not a decision object"),
    (["--config", "{unknown}"], "unknown setting"),
])
def test_bad_settings_exit_2_with_one_line(state, table, tmp_path, extra, message):
    files = {"config": "{not json", "policy": '{"allow": []}', "decisions": "[1]\n",
             "unknown": '{"colour": "blue"}'}
    for name, text in files.items():
        (tmp_path / f"{name}.json").write_text(text)
    extra = [e.format(**{k: tmp_path / f"{k}.json" for k in files}) for e in extra]
    args = [table, "--out", tmp_path / "r", "--list", state[0], "--trust", state[1]]
    if "--release" not in extra:
        args += ["--release", "r1"]
    result = invoke(*args, *extra)
    assert result.exit_code == 2, result.output
    assert message in result.output and result.output.startswith("error: ")
    assert not (tmp_path / "r" / "manifest.json").exists()


def test_no_inputs_no_key_no_list(state, table, tmp_path):
    result = invoke("--out", tmp_path / "r", "--release", "r", "--list", state[0],
                    "--trust", state[1])
    assert result.exit_code == 2 and "at least one input" in result.output
    (tmp_path / "empty.pub").write_text("# nothing\n")
    result = invoke(table, "--out", tmp_path / "r", "--release", "r", "--list", state[0],
                    "--trust", tmp_path / "empty.pub")
    assert result.exit_code == 2 and "no verifier key" in result.output
    result = invoke(table, "--out", tmp_path / "r", "--release", "r", "--list",
                    tmp_path / "nothing", "--trust", state[1])
    assert result.exit_code == 12 and "nothing built" in result.output
    assert not (tmp_path / "r").exists()
