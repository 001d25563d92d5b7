"""The optout CLI: init, users, keys, db — run as a real subprocess, like a newcomer would."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

OPTOUT = str(Path(sys.executable).parent / "optout")


@pytest.fixture
def run(database_url, tmp_path):
    env = {
        **os.environ,
        "OPTOUT_INSTANCE": str(tmp_path / "inst"),
        "OPTOUT_DATABASE_URL": database_url,
    }

    def invoke(*args, check=True):
        result = subprocess.run(
            [OPTOUT, *args], env=env, capture_output=True, text=True, timeout=60
        )
        if check and result.returncode != 0:
            raise AssertionError(f"optout {' '.join(args)} failed: {result.stderr}")
        return result

    invoke.instance = tmp_path / "inst"
    return invoke


def test_init_is_idempotent_and_prints_the_admin_token_once(run):
    first = run("init")
    token = first.stdout.strip().splitlines()[-1]
    assert token.startswith("optr_")
    assert "shown only now" in first.stderr
    key = run.instance / "signing.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(run.instance.stat().st_mode) == 0o700
    second = run("init")
    assert "optr_" not in second.stdout
    assert "applied 0 migration(s)" in second.stdout
    assert key.read_bytes() == key.read_bytes()


def test_users_add_list_revoke(run):
    run("db", "upgrade")
    added = json.loads(run("users", "add", "Alice", "--role", "reviewer", "--json").stdout)
    assert added["name"] == "alice" and added["token"].startswith("optr_")
    plain = run("users", "add", "bob", "--role", "publisher")
    assert plain.stdout.strip().startswith("optr_")
    listed = json.loads(run("users", "list", "--json").stdout)
    assert [(u["name"], u["role"]) for u in listed] == [("alice", "reviewer"), ("bob", "publisher")]
    assert all("token" not in json.dumps(u) for u in listed)
    assert run("users", "revoke", "alice", "--reason", "left").stdout.strip() == "revoked alice"
    table = run("users", "list").stdout
    assert "alice\treviewer\trevoked" in table and "bob\tpublisher\tactive" in table


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["users", "add", "alice", "--role", "reviewer"], "already exists"),
        (["users", "revoke", "nobody"], "does not exist"),
        (["users", "add", "no spaces", "--role", "reviewer"], "lower-case"),
    ],
)
def test_cli_errors_exit_2_with_one_line(run, args, message):
    run("db", "upgrade")
    run("users", "add", "alice", "--role", "reviewer")
    result = run(*args, check=False)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_usage_error_exits_2(run):
    result = run("users", "add", "x", "--role", "king", check=False)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_keys_show_matches_init_and_refuses_open_permissions(run):
    printed = run("keys", "init").stdout.strip()
    assert run("keys", "show").stdout.strip() == printed
    name, keyhash, material = printed.split("+", 2)
    assert name == "optout.localhost/audit" and len(keyhash) == 8 and material
    os.chmod(run.instance / "signing.key", 0o644)
    result = run("keys", "show", check=False)
    assert result.returncode == 2 and "readable by others" in result.stderr


def test_every_command_has_help_with_an_example(run):
    from click import Group

    from server.cli import main

    def walk(group, prefix):
        for name, command in group.commands.items():
            if isinstance(command, Group):
                yield from walk(command, [*prefix, name])
            else:
                yield [*prefix, name], command

    commands = list(walk(main, []))
    assert len(commands) >= 8
    for path, command in commands:
        if path[0] == "openapi":
            continue  # flask-smorest's own commands
        assert "Example:" in (command.help or ""), " ".join(path)
    assert "Example:" in run("users", "add", "--help").stdout
