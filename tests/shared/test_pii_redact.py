"""Redaction: placeholders inside the literal, consistent replacements, idempotence, decisions."""

from __future__ import annotations

import json
import os

import pytest

from shared.pii import Scanner, load_decisions, pseudonymous_ip, redact, redact_file, redact_tree
from tests.shared.pii_helpers import body

TOKEN = "ghp_" + body(36)
TEXT = (
    "# Maria Kowalska <maria.kowalska@posteo.de>\n"
    f'TOKEN = "{TOKEN}"\n'
    'password = "Tr0ub4dor&3x"\n'
    'db = "postgres://app:Zq7!vR2m9Lx@db.internal.acme.net/app"\n'
    'peers = ["81.169.145.105", "2a01:4f8:c17:3b1e::1", "81.169.145.105"]\n'
    "card_number = '4539 1488 0343 6467'\n"
    "Tel: +44 20 7946 0321\n"
    "cc: maria.kowalska@posteo.de, j.smith@uni-bonn.de\n"
)


def redacted(text=TEXT, **options):
    scanner = Scanner(key=b"k")
    return redact(text, scanner.scan_text(text, "src/a.py"), **options)


def test_placeholders_replace_only_the_values():
    out = redacted(pseudonymize_ips=False)
    assert out.splitlines() == [
        "# Maria Kowalska <<EMAIL>>",
        'TOKEN = "<KEY>"',
        'password = "<PASSWORD>"',
        'db = "postgres://app:<PASSWORD>@db.internal.acme.net/app"',
        'peers = ["<IP_ADDRESS>", "<IP_ADDRESS>", "<IP_ADDRESS>"]',
        "card_number = '<CARD>'",
        "Tel: <PHONE>",
        "cc: <EMAIL>, <EMAIL>",
    ]


def test_ips_get_consistent_private_pseudonyms():
    out = redacted()
    line = out.splitlines()[4]
    first, second, third = (part.strip('" ') for part in line[9:-1].split(","))
    assert first == third != second
    assert first.startswith("10.") and second.startswith("fd")
    assert redacted() == out  # same key, same pseudonyms, every run
    assert pseudonymous_ip("00" * 32) == "10.0.0.1"


def test_numbered_placeholders_are_consistent_per_value():
    out = redacted(placeholders={"email": "<EMAIL_{n}>"})
    lines = out.splitlines()
    assert lines[0] == "# Maria Kowalska <<EMAIL_1>>"
    assert lines[-1] == "cc: <EMAIL_1>, <EMAIL_2>"


def test_redacting_twice_changes_nothing():
    once = redacted()
    twice = redacted(once)
    assert twice == once
    assert Scanner(sensitivity=3).scan_text(once, "src/a.py") == []
    numbered = redacted(placeholders={"email": "<EMAIL_{n}>", "key": "<KEY_{n}>"})
    assert redacted(numbered) == numbered


def test_false_positive_decisions_are_left_alone(tmp_path):
    findings = Scanner(key=b"k").scan_text(TEXT, "src/a.py")
    password = next(f for f in findings if f.rule == "password-assignment")
    decisions = tmp_path / "decisions.jsonl"
    lines = [
        {"fingerprint": password.fingerprint, "rule": password.rule, "decision": "false_positive"},
        {"fingerprint": findings[0].fingerprint, "rule": "email", "decision": "confirmed"},
    ]
    decisions.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n")
    skipped = load_decisions(decisions)
    assert skipped == {(password.fingerprint, "password-assignment")}
    out = redact(TEXT, findings, false_positives=skipped)
    assert 'password = "Tr0ub4dor&3x"' in out
    assert "<EMAIL>" in out


def test_bad_decisions_file_names_the_line(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"fingerprint": "a", "rule": "email", "decision": "false_positive"}\n[1]\n')
    with pytest.raises(ValueError, match=r"d.jsonl:2"):
        load_decisions(path)
    path.write_text('{"fingerprint": "a", "rule": "email", "decision": "maybe"}\n')
    with pytest.raises(ValueError, match="unknown decision"):
        load_decisions(path)


def test_redact_tree_writes_atomically_and_copies_clean_files(tmp_path):
    source = tmp_path / "in"
    (source / "pkg").mkdir(parents=True)
    (source / "pkg" / "a.py").write_text(TEXT)
    clean = b"print('hello')\n\xff odd byte kept\n"
    (source / "clean.txt").write_bytes(clean)
    (source / "logo.png").write_bytes(b"\x89PNG\x00\x00" + TOKEN.encode())
    os.chmod(source / "pkg" / "a.py", 0o640)
    files, replaced = redact_tree(source, tmp_path / "out", Scanner())
    assert (files, replaced) == (3, 11)
    out = tmp_path / "out"
    assert (out / "clean.txt").read_bytes() == clean
    assert (out / "logo.png").read_bytes() == (source / "logo.png").read_bytes()
    assert "<KEY>" in (out / "pkg" / "a.py").read_text()
    assert oct((out / "pkg" / "a.py").stat().st_mode & 0o777) == "0o640"
    assert sorted(p.name for p in (out / "pkg").iterdir()) == ["a.py"]  # no temp files left


def test_redact_file_in_place(tmp_path):
    path = tmp_path / "a.py"
    path.write_text(TEXT)
    assert redact_file(path, path, Scanner()) == 11
    assert redact_file(path, path, Scanner()) == 0
