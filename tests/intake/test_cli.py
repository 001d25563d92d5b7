"""'optout intake propose|status|gateway-token', run as real subprocesses."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

OPTOUT = str(Path(sys.executable).parent / "optout")


@pytest.fixture
def run(tmp_path):
    def invoke(*args, model_dir=None, stdin=None):
        env = {**os.environ, "OPTOUT_INSTANCE": str(tmp_path / "inst")}
        env.pop("OPTOUT_INTAKE_MODEL_DIR", None)
        if model_dir is not None:
            env["OPTOUT_INTAKE_MODEL_DIR"] = str(model_dir)
        return subprocess.run([OPTOUT, "intake", *args], env=env, capture_output=True,
                              text=True, timeout=120, input=stdin)

    return invoke


def test_propose_with_the_model(run, tiny_model):
    done = run("propose", "Please remove the repository tidal-api of kestrel-analytics on GitHub.",
               model_dir=tiny_model[1])
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].startswith("mode: parser+model")
    assert "1. the repository github.com/kestrel-analytics/tidal-api (confidence" in done.stdout
    assert "host: github.com  <- 'GitHub' [model]" in done.stdout
    assert "Nothing has been submitted" in done.stdout


def test_propose_reads_stdin_as_json_and_works_without_a_model(run):
    done = run("propose", "-", "--json", stdin="remove https://codeberg.org/mira/recipes\n")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["mode"] == "parser" and result["model"]["code"] == "model_not_configured"
    assert result["proposals"][0]["request"] == {
        "kind": "repository", "host": "codeberg.org", "owner": "mira", "name": "recipes"}
    empty = run("propose", "-", stdin="  \n")
    assert empty.returncode == 2 and empty.stderr.strip() == "error: the message is empty"


def test_status_says_whether_the_model_loads(run, tiny_model, tmp_path):
    done = run("status", "--json", model_dir=tiny_model[1])
    assert done.returncode == 0 and json.loads(done.stdout)["available"] is True
    assert run("status").returncode == 0  # nothing configured: the parser alone, as designed
    broken = run("status", model_dir=tmp_path / "missing")
    assert broken.returncode == 1 and "intake.json does not exist" in broken.stdout


def test_gateway_token_prints_a_token_and_its_digest(run):
    done = run("gateway-token")
    token_line, digest_line = done.stdout.strip().splitlines()
    token = token_line.split(": ", 1)[1]
    assert token.startswith("optg_") and len(token) > 40
    name, digest = digest_line.split("=")
    assert name == "OPTOUT_INTAKE_GATEWAY_TOKEN_SHA256"
    assert digest == hashlib.sha256(token.encode()).hexdigest()
    assert run("gateway-token").stdout != done.stdout


def test_export_without_a_checkpoint_fails_in_one_line(run, tmp_path):
    done = run("export", str(tmp_path / "nothing"), str(tmp_path / "out"))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'nothing'} is not a checkpoint directory"]


@pytest.mark.parametrize(
    "args", [["--target", "0"], ["--target", "1.5"], ["--max-steps", "10"], ["--seed", "x"]]
)
def test_train_tiny_refuses_bad_settings_before_any_work(run, tmp_path, args):
    done = run("train-tiny", str(tmp_path / "ck"), *args)
    assert done.returncode == 2 and "Invalid value" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "ck").exists()
