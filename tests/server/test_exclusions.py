"""Exclusion lists end to end on the server: preview, publish, serve, pull with the real CLI."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from server.models import Request
from shared import states
from shared.exclusions.format import Matcher, parse_body
from shared.exclusions.manifest import open_manifest
from shared.note import Verifier, open_checkpoint
from tests.audit_log import audit_records

OPTOUT = str(Path(sys.executable).parent / "optout")


@pytest.fixture
def publisher(api, factory):
    return api(factory.user("publisher")[1])


def _publish(publisher, **body):
    return publisher._call("POST", "/exclusions", json={"confirm": "publish", **body}).json()


def _keys(live_server):
    return requests.get(f"{live_server}/api/v1/audit/keys", timeout=10).json()


def test_preview_publish_serve_and_pull(live_server, factory, publisher, tmp_path):
    repo, _ = factory.request("repository", states.APPROVED, owner="Octo", name="Hello")
    org, _ = factory.request("owner", states.APPROVED, owner="Acme")
    withdrawn, _ = factory.request("repository", states.CONFIRMED, owner="keep", name="me")
    factory.request("license", states.APPROVED)  # a license dispute enacts no rule
    preview = publisher._call("GET", "/exclusions/preview").json()
    assert preview["next_version"] == 1 and preview["current_version"] is None
    assert sorted(preview["requests_to_publish"]) == sorted(
        [repo.id, org.id, Request.get(Request.kind == "license").id])
    assert [c["rule"] for c in preview["added"]] == [
        {"host": "github.com", "kind": "owner", "owner": "acme"},
        {"host": "github.com", "kind": "repository", "name": "hello", "owner": "octo"},
    ]
    published = _publish(publisher, expires_days=7)
    assert published["version"] == 1 and published["rules"] == 2
    assert Request.get_by_id(repo.id).state == states.PUBLISHED
    assert Request.get_by_id(repo.id).published_in == 1
    assert Request.get_by_id(withdrawn.id).state == states.CONFIRMED

    # The manifest is signed by the log's key and carries a checkpoint that holds the
    # publication entry.
    keys = _keys(live_server)
    note = requests.get(f"{live_server}/api/v1/exclusions/latest/manifest", timeout=10)
    assert note.headers["Content-Type"].startswith("text/plain")
    manifest = open_manifest(note.content, [keys["current"]])
    body = requests.get(f"{live_server}/api/v1/exclusions/1/body", timeout=10).content
    assert hashlib.sha256(body).hexdigest() == manifest.sha256 and len(body) == manifest.size
    checkpoint = open_checkpoint(manifest.checkpoint.encode(), [keys["current"]],
                                 keys["origin"])
    publication = [r for r in audit_records() if r.action == "exclusions.published"][0]
    assert publication.index < checkpoint.size
    assert Matcher(body).excluded("GitHub.com", "OCTO", "hello") is not None
    assert Matcher(body).excluded("github.com", "acme", "anything") is not None
    assert Matcher(body).excluded("github.com", "keep", "me") is None

    # 304 with the ETag.
    again = requests.get(f"{live_server}/api/v1/exclusions/latest/manifest", timeout=10,
                         headers={"If-None-Match": note.headers["ETag"]})
    assert again.status_code == 304

    # The pipeline pulls it with the real CLI, pinned to the log's key.
    trust = tmp_path / "optout.pub"
    trust.write_text(keys["current"] + "\n")
    state = tmp_path / "state"
    pulled = subprocess.run([OPTOUT, "exclusions", "pull", "--server", live_server,
                             "--trust", str(trust), "--state", str(state)],
                            capture_output=True, text=True, timeout=60)
    assert pulled.returncode == 0, pulled.stderr
    assert "verified: version 1" in pulled.stdout

    # A revert drops a rule, a new approval adds one; version 2 chains to version 1.
    from server.auth import Principal
    from server.workflows.requests import etag_of, transition_request

    transition_request(repo.id, states.REVERTED, "owner asked to be included again",
                       Principal("reviewer", "r", 1), {etag_of(Request.get_by_id(repo.id))})
    factory.request("file", states.APPROVED, owner="jane", name="site", path="cfg/.env")
    preview = publisher._call("GET", "/exclusions/preview").json()
    assert [c["rule"]["kind"] for c in preview["added"]] == ["file"]
    assert [c["rule"]["kind"] for c in preview["removed"]] == ["repository"]
    assert _publish(publisher)["version"] == 2
    diff = publisher._call("GET", "/exclusions/1/diff/2").json()
    assert [r["kind"] for r in diff["added"]] == ["file"]
    pulled = subprocess.run([OPTOUT, "exclusions", "pull", "--server", live_server,
                             "--trust", str(trust), "--state", str(state)],
                            capture_output=True, text=True, timeout=60)
    assert pulled.returncode == 0 and "version 2" in pulled.stdout, pulled.stderr

    # Re-sign: same body, new version, fresh expiry.
    resigned = publisher._call("POST", "/exclusions/resign", json={"expires_days": 3}).json()
    assert resigned["version"] == 3
    v2 = requests.get(f"{live_server}/api/v1/exclusions/2/body", timeout=10).content
    v3 = requests.get(f"{live_server}/api/v1/exclusions/3/body", timeout=10).content
    assert v2 == v3 and len(parse_body(v3)) == 2


def _pull_cli(live_server, trust, state, *extra):
    return subprocess.run([OPTOUT, "exclusions", "pull", "--server", live_server,
                           "--trust", str(trust), "--state", str(state), *extra],
                          capture_output=True, text=True, timeout=60)


def _snapshot(state: Path) -> dict[str, bytes]:
    return {str(p.relative_to(state)): p.read_bytes() for p in state.rglob("*") if p.is_file()}


def test_pull_sends_the_etag_and_a_304_still_checks_expiry(live_server, factory, publisher,
                                                          tmp_path):
    from datetime import UTC, datetime, timedelta

    from shared.exclusions.pull import ExpiredError, load_state, pull

    factory.request("owner", states.APPROVED, owner="Acme")
    _publish(publisher, expires_days=7)
    keys = _keys(live_server)
    trust = tmp_path / "optout.pub"
    trust.write_text(keys["current"] + "\n")
    state = tmp_path / "state"
    first = _pull_cli(live_server, trust, state)
    assert first.returncode == 0 and "verified: version 1" in first.stdout, first.stderr
    served = requests.get(f"{live_server}/api/v1/exclusions/latest/manifest", timeout=10)
    assert load_state(state).etag == served.headers["ETag"]
    before = _snapshot(state)

    again = _pull_cli(live_server, trust, state)
    assert again.returncode == 0, again.stderr
    assert "up to date (not modified): version 1" in again.stdout
    # The kept list is still held to --max-age and to its expiry on a 304.
    stale = _pull_cli(live_server, trust, state, "--max-age", "0")
    assert stale.returncode == 7 and "not modified" in stale.stderr, stale.stderr
    statuses = []
    session = requests.Session()
    session.hooks["response"].append(lambda r, *args, **kw: statuses.append(r.status_code))
    with pytest.raises(ExpiredError, match="not modified"):
        pull(live_server, [keys["current"]], state, session=session,
             now=datetime.now(UTC) + timedelta(days=8))
    assert statuses == [304]
    assert _snapshot(state) == before, "the kept list is left as it was"

    # A new version: the old ETag no longer matches and the new list is pulled.
    factory.request("owner", states.APPROVED, owner="Umbrella")
    _publish(publisher)
    newer = _pull_cli(live_server, trust, state)
    assert newer.returncode == 0 and "verified: version 2" in newer.stdout, newer.stderr


def test_a_wrong_key_fails_closed(live_server, factory, publisher, tmp_path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from shared.keys import public_bytes

    factory.request("owner", states.APPROVED)
    _publish(publisher)
    stranger = Verifier.from_public_key("optout.localhost/audit",
                                        public_bytes(Ed25519PrivateKey.generate()))
    trust = tmp_path / "stranger.pub"
    trust.write_text(str(stranger) + "\n")
    pulled = subprocess.run([OPTOUT, "exclusions", "pull", "--server", live_server,
                             "--trust", str(trust), "--state", str(tmp_path / "s")],
                            capture_output=True, text=True, timeout=60)
    assert pulled.returncode == 4 and "[bad_signature]" in pulled.stderr
    assert not (tmp_path / "s" / "state.json").exists()


def test_publishing_needs_the_word_and_the_role(api, factory, publisher):
    from shared.client import ApiClientError

    with pytest.raises(ApiClientError) as caught:
        publisher._call("POST", "/exclusions", json={"confirm": "yes"})
    assert caught.value.code == "validation_error"
    reviewer = api(factory.user("reviewer")[1])
    with pytest.raises(ApiClientError) as caught:
        reviewer._call("POST", "/exclusions", json={"confirm": "publish"})
    assert caught.value.status == 403
    with pytest.raises(ApiClientError) as caught:
        api()._call("GET", "/exclusions/latest/manifest")
    assert (caught.value.status, caught.value.code) == (404, "not_found")
    with pytest.raises(ApiClientError) as caught:
        publisher._call("POST", "/exclusions/resign", json={})
    assert caught.value.code == "nothing_published"
