"""The fail-closed exclusion list client against a real HTTP server on loopback.

Every failure must raise its own error code and leave the last good list byte-identical.
"""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.exclusions.format import build_body, new_salt, owner_rule, repository_rule
from shared.exclusions.manifest import build_manifest, note_hash, sign_manifest
from shared.exclusions.pull import (
    EXIT_CODES,
    BadSignatureError,
    ChainError,
    ExpiredError,
    ForkError,
    HashMismatchError,
    MalformedError,
    NetworkError,
    OversizeError,
    PullError,
    RollbackError,
    StateError,
    load_state,
    load_verified,
    pull,
)
from shared.note import Checkpoint, Signer, sign_checkpoint

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)
API = "/api/v1/exclusions"


class Server:
    """Serves ``routes[path] = (status, bytes)``; ``fail[path] = n`` answers 503 n times.

    Like the real server it answers 304 when If-None-Match names the ETag of the bytes.
    """

    def __init__(self):
        self.routes: dict[str, tuple[int, bytes]] = {}
        self.fail: dict[str, int] = {}
        self.hits: list[str] = []
        self.answers: list[tuple[str, str | None, int]] = []  # path, If-None-Match, status
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                outer.hits.append(self.path)
                if outer.fail.get(self.path, 0) > 0:
                    outer.fail[self.path] -= 1
                    status, data = 503, b"busy"
                else:
                    status, data = outer.routes.get(self.path, (404, b"not found"))
                etag = '"' + hashlib.sha256(data).hexdigest() + '"'
                asked = self.headers.get("If-None-Match")
                if status == 200 and asked == etag:
                    status, data = 304, b""
                outer.answers.append((self.path, asked, status))
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                if status != 304:
                    self.send_header("Content-Length", str(len(data)))
                self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Publisher:
    """Publishes signed versions the way the server will."""

    def __init__(self, server: Server, key: Signer, salt: bytes | None = None):
        self.server, self.key, self.salt = server, key, salt
        self.log = Signer("optout.example/log", Ed25519PrivateKey.generate())
        self.notes: dict[int, bytes] = {}

    def make(self, version, rules, *, issued=NOW - timedelta(days=1), days=30, prev=None):
        body = build_body(rules, salt=self.salt)
        prev_note = prev if prev is not None else self.notes.get(version - 1)
        cp = sign_checkpoint(Checkpoint("optout.example/log", version, b"\x07" * 32), [self.log])
        manifest = build_manifest(
            body,
            version=version,
            issued=issued,
            expires=issued + timedelta(days=days),
            prev_note=prev_note if version > 1 else None,
            checkpoint=cp,
            salt=self.salt,
        )
        return sign_manifest(manifest, [self.key]), body

    def publish(self, version, rules, **kw):
        note, body = self.make(version, rules, **kw)
        self.notes[version] = note
        self.serve(version, note, body)
        return note, body

    def serve(self, version, note, body, *, latest=True):
        self.server.routes[f"{API}/{version}/manifest"] = (200, note)
        self.server.routes[f"{API}/{version}/body"] = (200, body)
        if latest:
            self.server.routes[f"{API}/latest/manifest"] = (200, note)


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


@pytest.fixture
def key():
    return Signer("optout.example/exclusions", Ed25519PrivateKey.generate())


@pytest.fixture
def pub(server, key):
    return Publisher(server, key)


RULES1 = [owner_rule("github.com", "octo"), repository_rule("github.com", "alice", "spoon")]
RULES2 = RULES1 + [repository_rule("gitlab.com", "bob", "tools")]


def run(server, key, state, **kw):
    kw.setdefault("now", NOW)
    kw.setdefault("backoff", 0)
    return pull(server.url, [str(key.verifier)], state, **kw)


def snapshot(state: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(state)): p.read_bytes() for p in sorted(state.rglob("*")) if p.is_file()
    }


@pytest.fixture
def good_state(server, key, pub, tmp_path):
    """A state directory holding verified version 1."""
    pub.publish(1, RULES1)
    state = tmp_path / "state"
    result = run(server, key, state)
    assert result.updated and result.manifest.version == 1
    return state


def expect_failure(server, key, state, error, **kw):
    before = snapshot(state)
    with pytest.raises(error) as info:
        run(server, key, state, **kw)
    assert snapshot(state) == before, "the last good list must be left in place"
    assert info.value.exit_code == EXIT_CODES[info.value.code]
    return info.value


def test_happy_path_then_up_to_date_then_update(server, key, pub, good_state):
    state = good_state
    saved = load_state(state)
    assert saved.version == 1 and saved.note == pub.notes[1]
    assert saved.body_path.read_bytes() == build_body(RULES1)
    manifest, matcher = load_verified(state, [str(key.verifier)], now=NOW)
    assert matcher.excluded("GitHub.com", "Octo", "x")["kind"] == "owner"

    again = run(server, key, state)
    assert not again.updated and again.manifest.version == 1

    pub.publish(2, RULES2)
    result = run(server, key, state)
    assert result.updated and result.previous_version == 1 and result.manifest.version == 2
    assert result.body_path.read_bytes() == build_body(RULES2)
    assert (state / "lists" / "1" / "body.jsonl").exists(), "the previous copy is kept"
    pub.publish(3, RULES2)
    run(server, key, state)
    assert sorted(p.name for p in (state / "lists").iterdir()) == ["2", "3"]


def test_privacy_mode_list_is_pulled_and_matched(server, key, tmp_path):
    pub = Publisher(server, key, salt=new_salt())
    pub.publish(1, RULES1)
    run(server, key, tmp_path)
    manifest, matcher = load_verified(tmp_path, [str(key.verifier)], now=NOW)
    assert manifest.salt == pub.salt
    assert matcher.excluded("github.com", "ALICE", "Spoon")["kind"] == "repository"


def test_skipped_versions_are_checked_link_by_link(server, key, pub, good_state):
    for v in (2, 3, 4):
        pub.publish(v, RULES2)
    result = run(server, key, good_state)
    assert result.manifest.version == 4
    assert {f"{API}/2/manifest", f"{API}/3/manifest"} <= set(server.hits)


def test_tampered_body_byte(server, key, pub, good_state):
    note, body = pub.publish(2, RULES2)
    tampered = bytearray(body)
    tampered[10] ^= 0x01
    server.routes[f"{API}/2/body"] = (200, bytes(tampered))
    e = expect_failure(server, key, good_state, HashMismatchError)
    assert e.code == "hash_mismatch"


def test_tampered_manifest_byte_is_a_bad_signature(server, key, pub, good_state):
    note, _ = pub.publish(2, RULES2)
    server.routes[f"{API}/latest/manifest"] = (200, note.replace(b'"size":', b'"size":1'))
    expect_failure(server, key, good_state, BadSignatureError)


def test_truncated_body(server, key, pub, good_state):
    note, body = pub.publish(2, RULES2)
    server.routes[f"{API}/2/body"] = (200, body[:-7])
    expect_failure(server, key, good_state, HashMismatchError)


def test_oversize_body_is_cut_off_at_the_manifest_size(server, key, pub, good_state):
    note, body = pub.publish(2, RULES2)
    server.routes[f"{API}/2/body"] = (200, body + b"x" * 100_000)
    expect_failure(server, key, good_state, OversizeError)


def test_body_over_the_absolute_cap_is_not_downloaded(server, key, pub, good_state):
    pub.publish(2, RULES2)
    expect_failure(server, key, good_state, OversizeError, max_body=10)
    assert f"{API}/2/body" not in server.hits


def test_oversize_manifest(server, key, pub, good_state):
    server.routes[f"{API}/latest/manifest"] = (200, b"x" * (64 * 1024 + 1))
    expect_failure(server, key, good_state, OversizeError)


def test_replayed_older_version_is_a_rollback(server, key, pub, good_state):
    note1 = pub.notes[1]
    pub.publish(2, RULES2)
    run(server, key, good_state)
    server.routes[f"{API}/latest/manifest"] = (200, note1)
    e = expect_failure(server, key, good_state, RollbackError)
    assert e.exit_code == 5


def test_forked_same_version_manifest(server, key, pub, good_state):
    note, body = pub.make(1, RULES2)
    pub.serve(1, note, body)
    expect_failure(server, key, good_state, ForkError)


def test_expired_manifest(server, key, pub, good_state):
    pub.publish(2, RULES2, issued=NOW - timedelta(days=10), days=5)
    expect_failure(server, key, good_state, ExpiredError)


def test_saved_list_that_expired_is_an_error_even_when_up_to_date(server, key, good_state):
    e = expect_failure(server, key, good_state, ExpiredError, now=NOW + timedelta(days=40))
    assert server.answers[-1][2] == 304 and "saved list (not modified) 1 expired" in str(e)
    with pytest.raises(ExpiredError):
        load_verified(good_state, [str(key.verifier)], now=NOW + timedelta(days=40))


def test_the_etag_of_the_last_verified_manifest_is_sent_and_304_is_up_to_date(
        server, key, pub, good_state):
    etag = '"' + note_hash(pub.notes[1]) + '"'
    assert server.answers[0] == (f"{API}/latest/manifest", None, 200)
    assert load_state(good_state).etag == etag
    before = snapshot(good_state)
    result = run(server, key, good_state)
    assert (result.not_modified, result.updated, result.manifest.version) == (True, False, 1)
    assert result.body_path.read_bytes() == build_body(RULES1)
    assert server.answers[-1] == (f"{API}/latest/manifest", etag, 304)
    assert snapshot(good_state) == before
    # A new version: the old ETag no longer matches, the server sends it whole.
    pub.publish(2, RULES2)
    result = run(server, key, good_state)
    assert result.updated and not result.not_modified
    assert server.answers[-2:] == [(f"{API}/latest/manifest", etag, 200),
                                   (f"{API}/2/body", None, 200)]
    assert load_state(good_state).etag == '"' + note_hash(pub.notes[2]) + '"'


def test_304_keeps_checking_the_max_age_with_the_runs_now(server, key, good_state):
    e = expect_failure(server, key, good_state, ExpiredError, max_age_days=0.5)
    assert server.answers[-1][2] == 304 and "not modified" in str(e)
    assert run(server, key, good_state, max_age_days=2).not_modified


def test_304_with_a_tampered_kept_body_fails(server, key, good_state):
    body = good_state / "lists" / "1" / "body.jsonl"
    body.write_bytes(body.read_bytes().replace(b"octo", b"octa"))
    expect_failure(server, key, good_state, HashMismatchError)
    assert server.answers[-1][2] == 304


def test_304_for_a_list_signed_by_a_key_no_longer_pinned_fails(server, key, good_state):
    other = Signer("optout.example/exclusions", Ed25519PrivateKey.generate())
    expect_failure(server, other, good_state, BadSignatureError)
    assert server.answers[-1][2] == 304


def test_a_304_that_was_not_asked_for_is_a_network_error(server, key, pub, tmp_path):
    server.routes[f"{API}/latest/manifest"] = (304, b"")
    with pytest.raises(NetworkError, match="answered 304"):
        run(server, key, tmp_path / "state")
    assert not (tmp_path / "state").exists()


def test_a_state_without_etag_is_sent_whole_then_remembers_it(server, key, pub, good_state):
    pointer = good_state / "state.json"
    state = json.loads(pointer.read_text())
    del state["etag"]
    pointer.write_text(json.dumps(state))
    result = run(server, key, good_state)
    assert not result.updated and not result.not_modified
    assert server.answers[-1] == (f"{API}/latest/manifest", None, 200)
    assert load_state(good_state).etag == '"' + note_hash(pub.notes[1]) + '"'
    assert run(server, key, good_state).not_modified


def test_max_age_on_issued(server, key, pub, good_state):
    pub.publish(2, RULES2, issued=NOW - timedelta(days=3))
    expect_failure(server, key, good_state, ExpiredError, max_age_days=2)
    assert run(server, key, good_state, max_age_days=4).manifest.version == 2


def test_wrong_key(server, key, good_state):
    other = Signer("optout.example/exclusions", Ed25519PrivateKey.generate())
    Publisher(server, other).publish(2, RULES2, prev=b"whatever")
    expect_failure(server, key, good_state, BadSignatureError)


def test_no_trusted_keys_fails_closed(server, pub, tmp_path):
    pub.publish(1, RULES1)
    with pytest.raises(BadSignatureError):
        pull(server.url, [], tmp_path, now=NOW)
    assert not any(tmp_path.iterdir())


def test_broken_prev_chain_next_version(server, key, pub, good_state):
    pub.publish(2, RULES2, prev=b"not the previous manifest")
    expect_failure(server, key, good_state, ChainError)


def test_broken_prev_chain_in_skipped_versions(server, key, pub, good_state):
    pub.publish(2, RULES2, prev=b"a forked history")
    pub.publish(3, RULES2)
    expect_failure(server, key, good_state, ChainError)


def test_too_many_skipped_versions(server, key, pub, good_state):
    for v in (2, 3, 4):
        pub.publish(v, RULES2)
    expect_failure(server, key, good_state, ChainError, max_chain=1)


def test_malformed_body_with_valid_hash(server, key, pub, good_state):
    bad = b'{"kind":"owner"}\n'
    m = build_manifest(
        bad,
        version=2,
        issued=NOW - timedelta(days=1),
        expires=NOW + timedelta(days=1),
        prev_note=pub.notes[1],
        checkpoint=sign_checkpoint(Checkpoint("log", 2, b"\x07" * 32), [pub.log]),
    )
    pub.serve(2, sign_manifest(m, [key]), bad)
    expect_failure(server, key, good_state, MalformedError)


def test_network_failure_is_retried_then_succeeds(server, key, pub, tmp_path):
    pub.publish(1, RULES1)
    server.fail[f"{API}/latest/manifest"] = 2
    server.fail[f"{API}/1/body"] = 1
    sleeps = []
    result = run(server, key, tmp_path, retries=3, backoff=0.01, sleep=sleeps.append)
    assert result.updated and sleeps == [0.01, 0.02, 0.01]


def test_network_failure_after_retries(server, key, pub, good_state):
    pub.publish(2, RULES2)
    server.fail[f"{API}/latest/manifest"] = 5
    e = expect_failure(server, key, good_state, NetworkError, retries=3)
    assert e.exit_code == 3 and server.hits.count(f"{API}/latest/manifest") == 1 + 3


def test_unreachable_server(key, good_state):
    before = snapshot(good_state)
    with pytest.raises(NetworkError):
        pull("http://127.0.0.1:9", [str(key.verifier)], good_state, now=NOW, backoff=0)
    assert snapshot(good_state) == before


def test_client_errors_are_not_retried(server, key, pub, good_state):
    pub.publish(2, RULES2)
    del server.routes[f"{API}/2/body"]
    expect_failure(server, key, good_state, NetworkError)
    assert server.hits.count(f"{API}/2/body") == 1


def test_corrupt_state_fails_closed(server, key, pub, good_state):
    (good_state / "lists" / "1" / "manifest.note").write_bytes(b"edited")
    with pytest.raises(StateError):
        run(server, key, good_state)
    with pytest.raises(StateError):
        load_verified(good_state, [str(key.verifier)], now=NOW)


def test_load_verified_without_a_list_fails_closed(tmp_path, key):
    with pytest.raises(StateError):
        load_verified(tmp_path, [str(key.verifier)], now=NOW)


def test_exit_code_table_is_distinct_and_clear_of_0_and_2():
    codes = [c for name, c in EXIT_CODES.items() if name not in ("ok", "usage")]
    assert len(set(codes)) == len(codes) and 0 not in codes and 2 not in codes
    assert EXIT_CODES["failed"] == PullError.exit_code == 1
    assert set(EXIT_CODES) >= {
        "network", "bad_signature", "rollback", "fork", "expired", "hash_mismatch",
        "oversize", "malformed",
    }  # fmt: skip
    assert note_hash(b"x") == hashlib.sha256(b"x").hexdigest()
