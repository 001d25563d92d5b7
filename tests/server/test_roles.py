"""Role matrix: every endpoint against every role and no token; token life cycle."""

from __future__ import annotations

import pytest
import requests

from server.auth import PUBLIC
from shared import states

ANON, OWNER, REVIEWER, PUBLISHER, ADMIN = None, "owner", "reviewer", "publisher", "admin"
ROLES = [ANON, OWNER, REVIEWER, PUBLISHER, ADMIN]
STAFF = {REVIEWER, PUBLISHER, ADMIN}

# (method, URL rule) -> the roles it admits. A new endpoint must be added here on purpose.
EXPECTED = {
    ("GET", "/api/v1/openapi.json"): {PUBLIC},
    ("GET", "/api/v1/health"): {PUBLIC},
    ("GET", "/api/v1/me"): {OWNER} | STAFF,
    ("POST", "/api/v1/requests"): {PUBLIC},
    ("GET", "/api/v1/requests"): STAFF,
    ("GET", "/api/v1/requests/counts"): STAFF,
    ("GET", "/api/v1/requests/<int:request_id>/coverage"): STAFF,
    ("GET", "/api/v1/requests/<int:request_id>"): {OWNER} | STAFF,
    ("POST", "/api/v1/requests/<int:request_id>/transitions"): {OWNER} | STAFF,
    ("GET", "/api/v1/users"): {ADMIN},
    ("POST", "/api/v1/users"): {ADMIN},
    ("POST", "/api/v1/users/<string:name>/revoke"): {ADMIN},
    ("GET", "/api/v1/lookup"): {PUBLIC},
    ("POST", "/api/v1/requests/<int:request_id>/reinclusion"): {OWNER},
    ("GET", "/api/v1/audit/checkpoint"): {PUBLIC},
    ("GET", "/api/v1/audit/entries"): {PUBLIC},
    ("GET", "/api/v1/audit/proof/inclusion"): {PUBLIC},
    ("GET", "/api/v1/audit/proof/consistency"): {PUBLIC},
    ("GET", "/api/v1/audit/keys"): {PUBLIC},
    ("POST", "/api/v1/scopes/parse"): {PUBLIC},
    # Free-text intake: reviewers; the mail gateway has no bearer token but a shared secret
    # (X-Optout-Gateway-Token, stored hashed), checked by the view: 404 while unconfigured.
    ("POST", "/api/v1/intake"): STAFF,
    ("POST", "/api/v1/intake/mail"): {PUBLIC},
    ("GET", "/api/v1/exclusions/latest/manifest"): {PUBLIC},
    ("GET", "/api/v1/exclusions/<int:version>/manifest"): {PUBLIC},
    ("GET", "/api/v1/exclusions/<int:version>/body"): {PUBLIC},
    ("GET", "/api/v1/exclusions/preview"): {PUBLISHER, ADMIN},
    ("POST", "/api/v1/exclusions"): {PUBLISHER, ADMIN},
    ("POST", "/api/v1/exclusions/resign"): {PUBLISHER, ADMIN},
    ("GET", "/api/v1/exclusions/<int:old>/diff/<int:new>"): STAFF,
    ("POST", "/api/v1/requests/<int:request_id>/challenges"): {OWNER},
    ("POST", "/api/v1/requests/<int:request_id>/challenges/check"): {OWNER} | STAFF,
    ("GET", "/api/v1/requests/<int:request_id>/evidence"): {OWNER} | STAFF,
    ("POST", "/api/v1/requests/<int:request_id>/email-proof"): {OWNER},
    ("POST", "/api/v1/email-proofs/confirm"): {PUBLIC},
    # License verdicts: pipelines ingest (publisher, admin); reviewers read and override.
    ("POST", "/api/v1/licenses/scans"): {PUBLISHER, ADMIN},
    ("GET", "/api/v1/licenses"): STAFF,
    ("GET", "/api/v1/licenses/<host>/<path:owner>/<name>"): STAFF,
    ("POST", "/api/v1/licenses/<host>/<path:owner>/<name>/override"): STAFF,
    # PII review: pipelines ingest (publisher, admin); staff read, reveal (audited), decide.
    ("POST", "/api/v1/pii/findings"): {PUBLISHER, ADMIN},
    ("GET", "/api/v1/pii/findings"): STAFF,
    ("GET", "/api/v1/pii/findings/<int:finding_id>"): STAFF,
    ("POST", "/api/v1/pii/findings/<int:finding_id>/reveal"): STAFF,
    ("POST", "/api/v1/pii/decisions"): STAFF,
    ("GET", "/api/v1/requests/<int:request_id>/pii-findings"): STAFF,
    # Owners' web pages: public; a status token in the form identifies the owner.
    ("GET", "/"): {PUBLIC},
    ("GET", "/lookup"): {PUBLIC},
    ("GET", "/requests/new"): {PUBLIC},
    ("POST", "/requests/new"): {PUBLIC},
    ("GET", "/status"): {PUBLIC},
    ("POST", "/status/<action>"): {PUBLIC},
    ("GET", "/proof/email"): {PUBLIC},
    ("POST", "/proof/email"): {PUBLIC},
}

# Query strings that endpoints with required parameters need to answer at all.
SAMPLE_QUERIES = {
    "/api/v1/lookup": "?host=github.com&owner=octocat&name=hello",
    "/api/v1/audit/entries": "?start=0&end=1",
    "/api/v1/audit/proof/inclusion": "?size=1&index=0",
    "/api/v1/audit/proof/consistency": "?old=1&new=1",
}


DENIALS = {"unauthorized", "invalid_token", "forbidden"}


def _endpoints(app, api_only=False):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or (api_only and not rule.rule.startswith("/api/")):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, rule


def test_every_endpoint_declares_its_roles(app):
    declared = {}
    for method, rule in _endpoints(app):
        view = app.view_functions[rule.endpoint]
        assert hasattr(view, "_admits"), f"{method} {rule.rule} declares no roles"
        declared[(method, rule.rule)] = set(view._admits)
    assert declared == EXPECTED


def _sample_body(method, rule, role):
    if rule.endswith("/transitions"):
        # A move each admitted role may make from `received`.
        return {"to": "withdrawn"} if role == OWNER else {"to": "rejected", "reason": "spam"}
    if rule == "/api/v1/requests" and method == "POST":
        return {"kind": "owner", "host": "github.com", "owner": "someone"}
    if rule == "/api/v1/exclusions":
        return {"confirm": "publish"}
    if rule == "/api/v1/scopes/parse":
        return {"text": "github.com/octo/one"}
    if rule.startswith("/api/v1/intake"):
        return {"text": "please remove github.com/octo/one"}
    if rule == "/api/v1/users":
        return {"name": "newbie", "role": "reviewer"}
    if rule.endswith("/email-proof"):
        return {"address": "owner@example.org"}
    if rule == "/api/v1/email-proofs/confirm":
        return {"token": "opte_not-a-real-token"}
    if rule == "/api/v1/licenses/scans":
        scan = {"declared": "MIT", "detector": {"name": "askalono", "version": "0.2"}}
        return {"scans": [{"host": "github.com", "owner": "octocat", "name": "hello",
                           "scan": scan}]}
    if rule.endswith("/override"):
        return {"verdict": "permissive", "reason": "read the license file"}
    if rule.endswith("/reveal"):
        return {"reason": "triage"}
    if rule == "/api/v1/pii/decisions":
        return {"decisions": [{"fingerprint": "0" * 64, "rule": "email", "decision": "confirmed"}]}
    return {} if method == "POST" else None


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r or "anonymous")
def test_role_matrix(app, live_server, factory, role):
    target, owner_token = factory.request("repository", states.RECEIVED)
    tokens = {OWNER: owner_token}
    for staff_role in STAFF:
        tokens[staff_role] = factory.user(staff_role)[1]
    victim, _ = factory.user(REVIEWER, name="victim")
    for method, rule in _endpoints(app, api_only=True):
        path = (
            rule.rule.replace("<int:request_id>", str(target.id))
            .replace("<string:name>", victim.name)
            .replace("<host>/<path:owner>/<name>", "github.com/octocat/hello")
            .replace("<int:finding_id>", "1")
            .replace("<int:version>", "1").replace("<int:old>", "1").replace("<int:new>", "1")
        ) + SAMPLE_QUERIES.get(rule.rule, "")
        headers = {"If-Match": f'"r{target.id}-v{target.version}"'}
        if role is not None:
            headers["Authorization"] = f"Bearer {tokens[role]}"
        resp = requests.request(
            method,
            live_server + path,
            json=_sample_body(method, rule.rule, role),
            headers=headers,
            timeout=10,
        )
        admitted = EXPECTED[(method, rule.rule)]
        where = f"{role or 'anonymous'} {method} {rule.rule} -> {resp.status_code} {resp.text}"
        if PUBLIC in admitted or role in admitted:
            # Admitted: the endpoint may still refuse the request itself (409, 422), but
            # never for who is asking, and never with a server error.
            assert resp.status_code < 500, where
            if resp.status_code >= 400:
                assert resp.json()["error"]["code"] not in DENIALS, where
        elif role is None:
            assert resp.status_code == 401, where
            assert resp.json()["error"]["code"] == "unauthorized"
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        else:
            assert resp.status_code == 403, where
            assert resp.json()["error"]["code"] == "forbidden"
    assert type(target).get_by_id(target.id).state == (
        {OWNER: "withdrawn", None: "received"}.get(role, "rejected")
    )


@pytest.mark.parametrize(
    "header",
    [
        "Bearer optr_not-a-real-token",
        "Bearer opts_not-a-real-token",
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "optr_token-without-scheme",
    ],
)
def test_bad_tokens_are_401(live_server, header):
    resp = requests.get(
        f"{live_server}/api/v1/requests", headers={"Authorization": header}, timeout=5
    )
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] in ("invalid_token", "unauthorized")


def test_revoked_token_stops_working_at_once(api, factory):
    admin = api(factory.user(ADMIN)[1])
    created = admin.add_user("carol", "reviewer")
    carol = api(created["token"])
    assert carol.me() == {"name": "carol", "role": "reviewer"}
    revoked = admin.revoke_user("carol", reason="left")
    assert revoked["revoked_at"] is not None
    from shared.client import ApiClientError

    with pytest.raises(ApiClientError) as caught:
        carol.me()
    assert (caught.value.status, caught.value.code) == (401, "invalid_token")
    with pytest.raises(ApiClientError) as caught:
        admin.revoke_user("carol")
    assert caught.value.code == "already_revoked"
    listed = {u["name"]: u for u in admin.list_users()}
    assert listed["carol"]["revoked_at"] is not None
    assert "token" not in listed["carol"] and "token_hash" not in listed["carol"]


def test_tokens_are_stored_hashed(api, factory):
    from server.models import User

    admin = api(factory.user(ADMIN)[1])
    created = admin.add_user("dave", "publisher")
    stored = User.get(User.name == "dave")
    assert created["token"] not in (stored.token_hash, stored.name)
    assert len(stored.token_hash) == 64 and created["token"].startswith("optr_")


def test_user_api_errors(api, factory):
    from shared.client import ApiClientError

    admin = api(factory.user(ADMIN)[1])
    admin.add_user("erin", "reviewer")
    for name, role, code in [
        ("erin", "reviewer", "user_exists"),
        ("Bad Name!", "reviewer", "invalid_user_name"),
        ("frank", "superuser", "validation_error"),
    ]:
        with pytest.raises(ApiClientError) as caught:
            admin.add_user(name, role)
        assert caught.value.code == code
    with pytest.raises(ApiClientError) as caught:
        admin.revoke_user("nobody")
    assert caught.value.status == 404


def test_the_last_admin_cannot_be_revoked(api, factory):
    from shared.client import ApiClientError

    user, token = factory.user(ADMIN)
    admin = api(token)
    with pytest.raises(ApiClientError) as caught:
        admin.revoke_user(user.name)
    assert (caught.value.status, caught.value.code) == (409, "last_admin")
    admin.add_user("second", ADMIN)
    assert admin.revoke_user(user.name)["revoked_at"] is not None
