"""Exclusion list body format, manifests and matching (shared/exclusions/format.py, manifest.py)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.canonical import canonical_json
from shared.exclusions.format import (
    Matcher,
    RuleError,
    build_body,
    content_rule,
    file_rule,
    hash_rule,
    new_salt,
    owner_rule,
    parse_body,
    repository_rule,
)
from shared.exclusions.manifest import (
    HEADER,
    MalformedManifestError,
    ManifestSignatureError,
    build_manifest,
    note_hash,
    open_manifest,
    sign_manifest,
)
from shared.note import Checkpoint, Signer, sign_checkpoint, sign_note

BLOB = "95d09f2b10159347eece71399a7e2e907ea3df4f"


def rules():
    return [
        owner_rule("GitHub.com", "Octo-Org"),
        repository_rule("github.com", "Alice", "Spoon"),
        file_rule("gitlab.com", "bob", "tools", "src/Secret.py", "ab" * 32),
        content_rule(BLOB.upper()),
    ]


def test_body_is_sorted_canonical_unique_and_round_trips():
    body = build_body(rules() + rules())
    lines = body.split(b"\n")
    assert body.endswith(b"\n") and lines[-1] == b""
    assert lines[:-1] == sorted(lines[:-1]) and len(lines) - 1 == 4
    for line in lines[:-1]:
        assert canonical_json(__import__("json").loads(line)) == line
    assert build_body(parse_body(body)) == body
    assert build_body(reversed(parse_body(body))) == body
    assert build_body([]) == b"" and parse_body(b"") == []


@pytest.mark.parametrize(
    "body",
    [
        b'{"host":"github.com","kind":"owner","owner":"a"}',  # no trailing newline
        b'{"kind":"owner","host":"github.com","owner":"a"}\n',  # not canonical
        b'{"host":"github.com","kind":"owner","owner":"A"}\n',  # not lower-cased
        b'{"host":"github.com","kind":"owner","owner":"b"}\n'
        b'{"host":"github.com","kind":"owner","owner":"a"}\n',  # unsorted
        b'{"host":"github.com","kind":"owner","owner":"a"}\n'
        b'{"host":"github.com","kind":"owner","owner":"a"}\n',  # duplicate
        b'{"host":"github.com","kind":"user","owner":"a"}\n',  # unknown kind
        b'{"host":"github.com","kind":"owner","name":"x","owner":"a"}\n',  # extra key
        b'{"kind":"content","swhid":"swh:1:dir:' + b"0" * 40 + b'"}\n',  # not a content id
        b"\n",
    ],
)
def test_parse_body_is_strict(body):
    with pytest.raises(RuleError):
        parse_body(body)


@pytest.mark.parametrize("path", ["/abs", "a/../b", "a//b", "./a", ""])
def test_file_rule_paths_are_normalised_relative(path):
    with pytest.raises(RuleError):
        file_rule("github.com", "a", "b", path)


def test_matching_is_case_insensitive_on_host_owner_and_name_but_not_path():
    m = Matcher(build_body(rules()))
    assert m.excluded("GITHUB.COM", "alice", "SPOON")["kind"] == "repository"
    assert m.excluded("github.com", "alice", "spoon", path="any/file.c")["kind"] == "repository"
    assert m.excluded("github.com", "alice", "spoon-fork") is None
    assert m.excluded("gitlab.com", "BOB", "Tools", path="src/Secret.py")["kind"] == "file"
    assert m.excluded("gitlab.com", "bob", "tools", path="src/secret.py") is None
    assert m.excluded("gitlab.com", "bob", "tools", path="src/Other.py") is None
    assert m.excluded("gitlab.com", "bob", "tools") is None


def test_owner_rules_cover_every_repository_of_the_owner_on_that_host_only():
    m = Matcher(build_body(rules()))
    for name in ("a", "B", "new-repo"):
        assert m.excluded("github.com", "OCTO-ORG", name, path="x.py")["kind"] == "owner"
    assert m.excluded("gitlab.com", "octo-org", "a") is None


def test_content_rules_match_by_blob_hash_anywhere_in_either_spelling():
    m = Matcher(build_body(rules()))
    assert m.excluded("codeberg.org", "x", "y", "z.py", blob_sha1=BLOB)["kind"] == "content"
    assert m.excluded("a", "b", "c", blob_sha1="swh:1:cnt:" + BLOB.upper())["kind"] == "content"
    assert m.excluded("a", "b", "c", blob_sha1="0" * 40) is None
    assert build_body([content_rule(BLOB)]) == build_body([content_rule("swh:1:cnt:" + BLOB)])


def test_privacy_mode_hashes_identifiers_and_matches_the_same():
    salt = new_salt()
    body = build_body(rules(), salt=salt)
    assert b"alice" not in body and b"octo" not in body and BLOB.encode() not in body
    for rule in parse_body(body, hashed=True):
        assert set(rule) == {"h", "kind"}
    expected = hashlib.sha256(salt + b"repository:github.com/alice/spoon").hexdigest()
    assert hash_rule(repository_rule("github.com", "alice", "spoon"), salt)["h"] == expected
    m = Matcher(body, salt)
    assert m.excluded("GitHub.com", "Alice", "Spoon")["kind"] == "repository"
    assert m.excluded("github.com", "octo-org", "anything")["kind"] == "owner"
    assert m.excluded("gitlab.com", "bob", "tools", path="src/Secret.py")["kind"] == "file"
    assert m.excluded("x", "y", "z", blob_sha1=BLOB)["kind"] == "content"
    assert m.excluded("github.com", "alice", "fork") is None
    assert Matcher(body, new_salt()).excluded("github.com", "alice", "spoon") is None
    with pytest.raises(RuleError):
        Matcher(body)  # a hashed body is not a plain one
    with pytest.raises(RuleError):
        Matcher(build_body(rules()), salt)


# -- manifests -----------------------------------------------------------------------------------

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def signer(name="optout.example/exclusions"):
    return Signer(name, Ed25519PrivateKey.generate())


def checkpoint_note(log=None):
    log = log or signer("optout.example/log")
    return sign_checkpoint(Checkpoint("optout.example/log", 5, b"\x01" * 32), [log]).decode()


def test_manifest_sign_open_round_trip_and_text_shape():
    key = signer()
    body = build_body(rules())
    m = build_manifest(
        body,
        version=1,
        issued=NOW,
        expires=NOW + timedelta(days=30),
        prev_note=None,
        checkpoint=checkpoint_note(),
    )
    note = sign_manifest(m, [key])
    text = note.decode().split("\n\n")[0] + "\n"
    assert text.startswith(HEADER + "\n") and text.count("\n") == 2
    assert '"issued":"2026-11-01T00:00:00Z"' in text and '"prev":null' in text
    opened = open_manifest(note, [str(key.verifier)])
    assert opened == m and opened.sha256 == hashlib.sha256(body).hexdigest()
    m2 = build_manifest(
        body,
        version=2,
        issued=NOW,
        expires=NOW + timedelta(days=1),
        prev_note=note,
        checkpoint=checkpoint_note(),
        salt=b"s" * 32,
    )
    assert open_manifest(sign_manifest(m2, [key]), [key.verifier]).prev == note_hash(note)


def test_manifest_checkpoint_verified_against_log_key_when_asked():
    key, log = signer(), signer("optout.example/log")
    m = build_manifest(
        b"",
        version=1,
        issued=NOW,
        expires=NOW + timedelta(days=1),
        prev_note=None,
        checkpoint=checkpoint_note(log),
    )
    note = sign_manifest(m, [key])
    assert open_manifest(note, [key.verifier], log_verifiers=[log.verifier]) == m
    with pytest.raises(ManifestSignatureError):
        open_manifest(note, [key.verifier], log_verifiers=[signer("optout.example/log").verifier])


def test_manifest_wrong_key_and_malformed_texts_are_refused():
    key = signer()
    m = build_manifest(
        b"",
        version=1,
        issued=NOW,
        expires=NOW + timedelta(days=1),
        prev_note=None,
        checkpoint=checkpoint_note(),
    )
    with pytest.raises(ManifestSignatureError):
        open_manifest(sign_manifest(m, [key]), [signer().verifier])
    good = m.text()
    bad_texts = [
        good.replace(HEADER, "other header"),
        good.replace('"version":1', '"version":1.0'),
        good.replace('"version":1', '"version":0'),
        good.replace('"prev":null', '"prev":"' + "0" * 64 + '"'),
        good.replace("T00:00:00Z", "T00:00:00+00:00"),
        good.replace('"salt":null,', ""),
        good.replace('"size":0', '"size":-1'),
        good + "extra\n",
    ]
    for text in bad_texts:
        with pytest.raises(MalformedManifestError):
            open_manifest(sign_note(text, [key]), [key.verifier])
    with pytest.raises(MalformedManifestError):
        open_manifest(b"not a note", [key.verifier])
    with pytest.raises(MalformedManifestError):
        build_manifest(
            b"", version=2, issued=NOW, expires=NOW, prev_note=b"x", checkpoint=checkpoint_note()
        )
