"""'optout licenses scan': no database, no app; text for people, JSON for scripts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

OPTOUT = str(Path(sys.executable).parent / "optout")


def run(*args, tmp_path):
    env = {
        **os.environ,
        # Neither is reachable: the command must not touch them.
        "OPTOUT_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
        "OPTOUT_INSTANCE": str(tmp_path / "no-instance"),
    }
    return subprocess.run(
        [OPTOUT, "licenses", "scan", *args], env=env, capture_output=True, text=True, timeout=60
    )


def checkout(tmp_path):
    repo = tmp_path / "repo"
    (repo / "vendor" / "lib").mkdir(parents=True)
    (repo / "package.json").write_text('{"name": "x", "license": "MIT"}')
    (repo / "vendor" / "lib" / "COPYING").write_text("Licensed under the GNU GPL v3.\n")
    return repo


def test_json_output_for_scripts(tmp_path):
    result = run(str(checkout(tmp_path)), "--json", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["declared"] == "MIT"
    assert data["verdict"] == "permissive"
    assert data["policy"]["name"] == "optout-default"
    assert {e["path"] for e in data["evidence"]} == {"package.json", "vendor/lib/COPYING"}
    assert {"path", "expression", "score", "detector"} <= set(data["evidence"][0])
    assert not (tmp_path / "no-instance").exists()


def test_text_output_for_people(tmp_path):
    result = run(str(checkout(tmp_path)), tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "declared: MIT" in result.stdout
    assert "verdict:  permissive" in result.stdout
    assert "vendor/lib/  GPL-3.0-only  (non_permissive, vendored)" in result.stdout


def test_bad_path_exits_2_with_one_line(tmp_path):
    result = run(str(tmp_path / "missing"), tmp_path=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("error: no such directory")


def test_help_has_an_example(tmp_path):
    result = run("--help", tmp_path=tmp_path)
    assert result.returncode == 0
    assert "Example:" in result.stdout
