"""Streaming and offsets: multi-byte text, chunk edges, binary, empty and invalid UTF-8 files."""

from __future__ import annotations

import hashlib

import pytest

from shared.pii import Scanner, iter_files, reveal_value
from shared.pii.engine import BACKEND
from tests.shared.pii_helpers import body

TOKEN = "ghp_" + body(36)
EMAIL = "maria.kowalska@posteo.de"
SAMPLE = f'# 作者 🙂 {EMAIL}\ntoken = "{TOKEN}"  # 🔑 ключ\nhost = "81.169.145.105"\n'


def spans(findings):
    return [(f.rule, f.start, f.end, f.line, f.column) for f in findings]


def test_offsets_are_characters_in_multibyte_text():
    findings = Scanner().scan_text(SAMPLE, "src/a.py")
    assert [SAMPLE[f.start : f.end] for f in findings] == [EMAIL, TOKEN, "81.169.145.105"]
    email, token, ip = findings
    assert (email.line, email.column) == (1, SAMPLE.index(EMAIL) + 1)
    assert (token.line, token.column) == (2, 10)
    assert (ip.line, ip.column) == (3, 9)


@pytest.mark.parametrize("chunk", [7, 16, 33, 50, 64, 101])
def test_chunked_scans_equal_whole_scans(chunk):
    text = ("padding 🙂 ünïcödé 中文 " * 3 + SAMPLE) * 5
    whole = Scanner().scan_text(text, "src/a.py")
    chunked = Scanner(chunk_size=chunk, overlap=64).scan_text(text, "src/a.py")
    assert spans(chunked) == spans(whole)
    assert len(whole) == 15


def test_secret_straddling_a_chunk_edge_is_found_once():
    for cut in range(1, len(TOKEN)):
        text = "x" * (100 - cut) + " " + TOKEN + " tail\n"
        findings = Scanner(chunk_size=101, overlap=48).scan_text(text, "src/a.py")
        assert [text[f.start : f.end] for f in findings] == [TOKEN], cut


def test_private_key_block_straddling_chunks_in_a_file(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    block = (
        rsa.generate_private_key(65537, 2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
        .strip()
    )
    text = "é" * 1000 + "\n" + block + "\n" + "z" * 3000
    path = tmp_path / "key.txt"
    path.write_text(text, encoding="utf-8")
    findings = Scanner(chunk_size=512, overlap=2048).scan_file(path)
    assert [(text[f.start : f.end], f.line, f.column) for f in findings] == [(block, 2, 1)]


def test_huge_single_line_is_chunked(tmp_path):
    tokens = ["ghp_" + body(36) for _ in range(20)]
    line = " ".join(("q" * 4000) + " " + t for t in tokens)
    path = tmp_path / "min.js"
    path.write_text(line, encoding="utf-8")
    findings = Scanner(chunk_size=10_000, overlap=1000).scan_file(path)
    assert [line[f.start : f.end] for f in findings] == tokens
    assert {f.line for f in findings} == {1}
    assert [f.column for f in findings] == [f.start + 1 for f in findings]


def test_file_and_text_scans_agree_and_hash_the_bytes(tmp_path):
    path = tmp_path / "a.py"
    path.write_bytes(SAMPLE.encode())
    from_file = Scanner(chunk_size=20, overlap=64).scan_file(path, "a.py")
    assert spans(from_file) == spans(Scanner().scan_text(SAMPLE, "a.py"))
    assert from_file[0].content_sha256 == hashlib.sha256(SAMPLE.encode()).hexdigest()


def test_binary_and_empty_files_give_nothing(tmp_path):
    binary = tmp_path / "blob.bin"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" + f" {TOKEN} ".encode())
    empty = tmp_path / "empty.py"
    empty.write_bytes(b"")
    scanner = Scanner()
    assert scanner.scan_file(binary) == []
    assert scanner.scan_file(empty) == []
    assert scanner.scan_bytes(b"") == []
    assert scanner.scan_text("") == []


def test_invalid_utf8_keeps_offsets_of_the_replaced_text(tmp_path):
    raw = (
        b"\xff\xfe bad \xc3 bytes \xe2\x82 then "
        + TOKEN.encode()
        + b" \xf0\x9f\x99\x82 "
        + EMAIL.encode()
    )
    path = tmp_path / "mixed.txt"
    path.write_bytes(raw)
    text = raw.decode("utf-8", "replace")
    for chunk in (5, 9, 1 << 20):
        findings = Scanner(chunk_size=chunk, overlap=64).scan_file(path)
        assert [text[f.start : f.end] for f in findings] == [TOKEN, EMAIL]


def test_reveal_value_checks_content_and_fingerprint(tmp_path):
    key = b"instance-key"
    data = SAMPLE.encode()
    [_, token, _] = Scanner(key=key).scan_bytes(data, "a.py")
    assert reveal_value(token, data, key) == TOKEN
    with pytest.raises(ValueError, match="SHA-256"):
        reveal_value(token, data + b"\n", key)
    with pytest.raises(ValueError, match="fingerprint"):
        reveal_value(token, data, b"wrong key")


def test_re_fallback_finds_the_same(tmp_path):
    text = SAMPLE * 3 + 'password = "Tr0ub4dor&3x"\nphone: +44 20 7946 0321\n'
    assert spans(Scanner(backend="re").scan_text(text)) == spans(Scanner().scan_text(text))
    assert BACKEND in ("re2", "re")


def test_iter_files_walks_sorted_and_skips_vcs_and_links(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / ".git").mkdir()
    (tmp_path / "b" / "z.py").write_text("x")
    (tmp_path / "a.py").write_text("x")
    (tmp_path / ".git" / "config").write_text("x")
    (tmp_path / "link.py").symlink_to(tmp_path / "a.py")
    names = [p.removeprefix(str(tmp_path) + "/") for p in iter_files([tmp_path])]
    assert names == ["a.py", "b/z.py"]
    with pytest.raises(FileNotFoundError):
        list(iter_files([tmp_path / "missing"]))
