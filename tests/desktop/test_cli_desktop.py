"""The commands that start the app: 'optout desktop' hands over to 'python -m desktop'."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def test_optout_desktop_help_has_an_example():
    result = run(str(BIN / "optout"), "desktop", "--help")
    assert result.returncode == 0, result.stderr
    assert "Example:" in result.stdout and "optout desktop --server" in result.stdout


def test_optout_desktop_hands_its_options_to_the_app(tmp_path):
    taken = tmp_path / "a-file"
    taken.write_text("")
    result = run(str(BIN / "optout"), "desktop", "--config-dir", str(taken / "config"))
    assert result.returncode == 2
    assert result.stderr.strip().startswith(f"error: cannot use {taken / 'config'}")


def test_the_entry_point_and_module_share_one_parser():
    for argv in ([str(BIN / "optout-desktop"), "--help"],
                 [sys.executable, "-m", "desktop", "--help"]):
        result = run(*argv)
        assert result.returncode == 0, result.stderr
        assert "--server" in result.stdout and "--config-dir" in result.stdout
