"""The audit log through its public API: one entry per governance action, proofs that verify
against signed checkpoints, no personal data in entries, key rotation, and remote verification.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from server.db import db
from server.models import AuditNote, LogEntry, LogNode, RequestEvent
from shared import merkle, states
from shared.audit_entry import note_digest, parse_entry
from shared.note import Checkpoint, Verifier, open_checkpoint

OPTOUT = str(Path(sys.executable).parent / "optout")


def _get(base, path, **params):
    resp = requests.get(f"{base}/api/v1/audit{path}", params=params, timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()


def _error(base, path, **params):
    resp = requests.get(f"{base}/api/v1/audit{path}", params=params, timeout=10)
    return resp.status_code, resp.json()["error"]["code"]


def _checkpoint(base) -> tuple[Checkpoint, Verifier]:
    keys = _get(base, "/keys")
    verifier = Verifier(keys["current"])
    note = _get(base, "/checkpoint")["note"].encode()
    return open_checkpoint(note, [verifier], keys["origin"]), verifier


def test_every_transition_is_one_entry_with_an_inclusion_proof(live_server, api, factory):
    receipt = api().submit("repository", "github.com", "octocat", name="hello")
    rid = receipt["request"]["id"]
    owner, reviewer = api(receipt["status_token"]), api(factory.user("reviewer")[1])
    start = 0
    current = owner.transition(rid, states.CONFIRMED, owner.get_request(rid).etag)
    current = reviewer.transition(rid, states.VERIFIED, current.etag, reason="seen the token")
    current = reviewer.transition(rid, states.APPROVED, current.etag)
    cp, _verifier = _checkpoint(live_server)
    assert cp.size == LogEntry.select().count()
    entries = _get(live_server, "/entries", start=start, end=cp.size)["entries"]
    mine = [(e["index"], json.loads(e["entry"])) for e in entries]
    mine = [(i, e) for i, e in mine if e["subject"] == f"request:{rid}"]
    assert [e["action"] for _, e in mine] == [
        "request.received", "request.confirmed", "request.verified", "request.approved"]
    for index, _entry in mine:
        raw = next(e["entry"] for e in entries if e["index"] == index).encode()
        leaf = merkle.leaf_hash(raw)
        for query in ({"index": index}, {"leaf_hash": base64.b64encode(leaf).decode()}):
            proof = _get(live_server, "/proof/inclusion", size=cp.size, **query)
            assert proof["index"] == index
            assert base64.b64decode(proof["leaf_hash"]) == leaf
            merkle.verify_inclusion(leaf, index, cp.size,
                                    [base64.b64decode(h) for h in proof["proof"]], cp.root_hash)
    verified = mine[2][1]
    assert "note" in verified and verified["actor"].startswith("user:")


def test_consistency_between_two_checkpoints(live_server, factory):
    factory.request("repository", states.VERIFIED)
    old, _ = _checkpoint(live_server)
    factory.request("owner", states.APPROVED)
    new, _ = _checkpoint(live_server)
    assert new.size > old.size
    proof = _get(live_server, "/proof/consistency", old=old.size, new=new.size)["proof"]
    merkle.verify_consistency(old.size, new.size, old.root_hash, new.root_hash,
                              [base64.b64decode(h) for h in proof])
    assert _get(live_server, "/checkpoint")["size"] == new.size  # no new note when unchanged


@pytest.mark.parametrize(("path", "params", "code"), [
    ("/entries", {"start": 5, "end": 9}, "invalid_range"),
    ("/entries", {"start": 0, "end": 1002}, "invalid_range"),
    ("/entries", {"start": 2, "end": 2}, "invalid_range"),
    ("/entries", {"start": -1, "end": 2}, "validation_error"),
    ("/proof/inclusion", {"size": 3, "index": 0, "leaf_hash": "A" * 43 + "="},
     "index_or_leaf_hash"),
    ("/proof/inclusion", {"size": 3}, "index_or_leaf_hash"),
    ("/proof/inclusion", {"size": 99, "index": 0}, "invalid_tree_size"),
    ("/proof/inclusion", {"size": 2, "index": 2}, "invalid_index"),
    ("/proof/inclusion", {"size": 3, "leaf_hash": "A" * 43 + "="}, "not_found"),
    ("/proof/inclusion", {"size": 3, "leaf_hash": "not base64"}, "validation_error"),
    ("/proof/consistency", {"old": 3, "new": 2}, "invalid_tree_size"),
    ("/proof/consistency", {"old": 1, "new": 99}, "invalid_tree_size"),
    ("/checkpoint", {"extra": 1}, None),
])
def test_bad_log_queries_are_clear_errors(live_server, factory, path, params, code):
    factory.request("repository", states.VERIFIED)  # three entries
    assert LogEntry.select().count() == 3
    if code is None:
        assert requests.get(f"{live_server}/api/v1/audit{path}", params=params,
                            timeout=10).status_code == 200
        return
    status, got = _error(live_server, path, **params)
    assert got == code and 400 <= status < 500


def test_entries_hold_references_not_personal_data(app, factory):
    _user, token = factory.user("reviewer", name="carol")
    req, _ = factory.request("file", states.CONFIRMED, owner="jane-doe", name="secrets",
                             path="home/jane/.env", notes="my e-mail is jane@example.org")
    from server.auth import Principal
    from server.workflows.requests import etag_of, transition_request

    reason = "Jane Doe phoned, +44 20 7946 0000"
    transition_request(req.id, states.VERIFIED, reason, Principal("reviewer", "carol", 5),
                       {etag_of(req)})
    text = b" ".join(bytes(e.entry) for e in LogEntry.select()).decode()
    for secret in ("jane", "Jane", "carol", "+44", "example.org", ".env", token):
        assert secret not in text
    entry = parse_entry(bytes(LogEntry.select().order_by(LogEntry.index.desc()).first().entry))
    note = AuditNote.get_by_id(entry["note"]["id"])
    assert entry["note"]["sha256"] == note_digest(bytes(note.salt), reason)
    # Erasure: the note and the event's reason go; the log still verifies.
    with db.atomic():
        AuditNote.delete().execute()
        RequestEvent.update(reason=None).execute()
    from server.checkpoints import origin, signer, trusted_verifiers
    from server.log_verify import verify_log

    assert verify_log(trusted_verifiers(signer().verifier), origin()).ok


def test_key_rotation_is_logged_and_signed_by_both_keys(app, live_server, factory):
    from server.checkpoints import rotate_key, trusted_verifiers
    from shared.note import open_note

    factory.request("owner")
    old_cp, old_key = _checkpoint(live_server)
    old, new = rotate_key(actor="cli")
    assert old == str(old_key) and new != old
    keys = _get(live_server, "/keys")
    assert keys["current"] == new and keys["retired"][0]["verifier"] == old
    note = keys["retired"][0]["rotation_note"].encode()
    _text, verified = open_note(note, [old, new])
    assert {str(v) for v in verified} == {old, new}
    last = parse_entry(bytes(LogEntry.select().order_by(LogEntry.index.desc()).first().entry))
    assert last["action"] == "key.rotated" and last["details"] == {"old": old, "new": new}
    # The first checkpoint after the rotation carries both signatures.
    cp_note = _get(live_server, "/checkpoint")["note"].encode()
    _text, both = open_note(cp_note, [old, new])
    assert len(both) == 2
    assert trusted_verifiers(Verifier(new))[-1] == Verifier(old)
    assert (Path(app.instance_path) / f"signing.key.{Verifier(old).key_id.hex()}.retired").exists()
    factory.request("owner", owner="after")
    merkle_ok = _get(live_server, "/proof/consistency", old=old_cp.size,
                     new=_get(live_server, "/checkpoint")["size"])
    assert merkle_ok["proof"]


def _remote(live_server, state, *trust, env=None):
    args = [OPTOUT, "audit", "verify", "--remote", live_server, "--state", str(state), "--json"]
    for key in trust:
        args += ["--trust", key]
    return subprocess.run(args, capture_output=True, text=True, timeout=60, env=env)


def test_remote_verification_follows_the_log_and_catches_forks(app, live_server, factory,
                                                               tmp_path):
    from server.checkpoints import rotate_key

    state = tmp_path / "state.json"
    factory.request("repository", states.VERIFIED)
    first = _remote(live_server, state)
    assert first.returncode == 1 and "--trust" in first.stderr  # no blind trust on first use
    pinned = _get(live_server, "/keys")["current"]
    ok = _remote(live_server, state, pinned)
    assert ok.returncode == 0, ok.stderr
    size = json.loads(ok.stdout)["size"]
    factory.request("owner", states.APPROVED)
    rotate_key(actor="cli")  # the client follows the rotation note from its pinned key
    again = _remote(live_server, state)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["size"] > size
    saved = json.loads(state.read_text())
    # History rewritten under the client's feet: an operator rewrites entry 1 and every
    # subtree hash above it, and the log grows on top of the new history.
    good = state.read_text()
    with db.atomic():
        for level in range(12):
            LogNode.update(hash=bytes([level + 1]) * 32).where(
                (LogNode.level == level) & (LogNode.index == 1 >> level)).execute()
    factory.request("owner", owner="later")
    forked = _remote(live_server, state)
    assert forked.returncode == 1
    assert "[inconsistent]" in forked.stderr
    assert state.read_text() == good  # the last good state is kept
    # A rollback: a state from the future.
    saved["size"] += 100
    state.write_text(json.dumps(saved))
    rolled = _remote(live_server, state)
    assert rolled.returncode == 1
