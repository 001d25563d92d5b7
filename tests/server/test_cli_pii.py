"""'optout pii scan|redact': no database, no app; JSON findings, exit codes, atomic redaction."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

OPTOUT = str(Path(sys.executable).parent / "optout")
TOKEN = "ghp_" + "aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5"


def run(*args, tmp_path, key="test-key"):
    env = {
        **os.environ,
        # Neither is reachable: the commands must not touch them.
        "OPTOUT_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
        "OPTOUT_INSTANCE": str(tmp_path / "no-instance"),
        "OPTOUT_PII_KEY": key,
    }
    return subprocess.run(
        [OPTOUT, "pii", *args], env=env, capture_output=True, text=True, timeout=60
    )


def checkout(tmp_path):
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / "src" / "settings.py").write_text(
        f'TOKEN = "{TOKEN}"\npassword = "sesame"\n# maria.kowalska@posteo.de\n'
    )
    (repo / "README.md").write_text("nothing here\n")
    return repo


def test_scan_json(tmp_path):
    result = run("scan", str(checkout(tmp_path)), "--json", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    findings = json.loads(result.stdout)["findings"]
    assert [(f["rule"], f["line"], f["column"], f["tier"]) for f in findings] == [
        ("github-token", 1, 10, 1),
        ("email", 3, 3, 1),
    ]
    first = findings[0]
    assert {
        "path",
        "line",
        "column",
        "start",
        "end",
        "kind",
        "rule",
        "tier",
        "fingerprint",
        "masked",
    } <= set(first)
    assert first["path"].endswith("src/settings.py") and first["kind"] == "key"
    assert TOKEN not in result.stdout and "maria.kowalska" not in result.stdout
    assert not (tmp_path / "no-instance").exists()


def test_scan_sensitivity_and_fail_on(tmp_path):
    repo = checkout(tmp_path)
    loud = run("scan", str(repo), "--json", "--sensitivity", "3", tmp_path=tmp_path)
    assert len(json.loads(loud.stdout)["findings"]) == 3
    failed = run("scan", str(repo), "--fail-on", "1", tmp_path=tmp_path)
    assert failed.returncode == 1
    assert "github-token" in failed.stdout and "2 finding(s) in 1 of 2 file(s)" in failed.stdout
    clean = run("scan", str(repo / "README.md"), "--fail-on", "3", tmp_path=tmp_path)
    assert clean.returncode == 0, clean.stderr


def test_fingerprints_depend_on_the_key(tmp_path):
    repo = checkout(tmp_path)
    one = json.loads(run("scan", str(repo), "--json", tmp_path=tmp_path).stdout)
    two = json.loads(run("scan", str(repo), "--json", tmp_path=tmp_path, key="other").stdout)
    assert one["findings"][0]["fingerprint"] != two["findings"][0]["fingerprint"]


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    for args in (
        ("scan", str(tmp_path / "missing")),
        ("scan", str(tmp_path), "--sensitivity", "7"),
        ("scan", str(tmp_path), "--fail-on", "x"),
        ("redact", str(tmp_path / "missing"), str(tmp_path / "out")),
        ("redact", str(tmp_path), str(tmp_path / "o"), "--decisions", str(tmp_path / "nope")),
        ("redact", str(tmp_path), str(tmp_path / "o"), "--placeholder", "nokind=X"),
    ):
        result = run(*args, tmp_path=tmp_path)
        assert result.returncode == 2, args
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert result.stderr.startswith("error: ")


def test_redact_directory_with_decisions(tmp_path):
    repo = checkout(tmp_path)
    scan = json.loads(run("scan", str(repo), "--json", tmp_path=tmp_path).stdout)
    email = next(f for f in scan["findings"] if f["kind"] == "email")
    decisions = tmp_path / "decisions.jsonl"
    decisions.write_text(
        json.dumps(
            {"fingerprint": email["fingerprint"], "rule": "email", "decision": "false_positive"}
        )
        + "\n"
    )
    out = tmp_path / "out"
    result = run("redact", str(repo), str(out), "--decisions", str(decisions), tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "redacted 1 value(s) in 2 file(s)" in result.stdout
    text = (out / "src" / "settings.py").read_text()
    assert 'TOKEN = "<KEY>"' in text and "maria.kowalska@posteo.de" in text
    again = run("redact", str(out), str(out), "--decisions", str(decisions), tmp_path=tmp_path)
    assert "redacted 0 value(s)" in again.stdout


def test_help_has_examples(tmp_path):
    for args in (("--help",), ("scan", "--help"), ("redact", "--help")):
        result = run(*args, tmp_path=tmp_path)
        assert result.returncode == 0 and "Example:" in result.stdout


def test_without_a_key_the_cli_warns_that_fingerprints_are_public(tmp_path):
    repo = checkout(tmp_path)
    keyed = run("scan", str(repo), "--json", tmp_path=tmp_path)
    assert keyed.returncode == 0 and keyed.stderr == ""
    bare = run("scan", str(repo), "--json", tmp_path=tmp_path, key="")
    assert bare.returncode == 0, bare.stderr
    assert bare.stderr.startswith("warning: OPTOUT_PII_KEY is not set")
    fingerprints = [f["fingerprint"] for f in json.loads(bare.stdout)["findings"]]
    assert fingerprints != [f["fingerprint"] for f in json.loads(keyed.stdout)["findings"]]
