"""Bad input over real HTTP: each gets a clear error in the envelope and stores nothing."""

from __future__ import annotations

import pytest
import requests

from server.models import Request, RequestEvent, User
from tests.audit_log import audit_count


@pytest.fixture
def state_snapshot(app):
    def snapshot():
        return (
            Request.select().count(),
            RequestEvent.select().count(),
            audit_count(),
            User.select().count(),
        )

    return snapshot


def _post(url, **kwargs):
    return requests.post(url, timeout=10, **kwargs)


def _error(resp, status, code):
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


GOOD = {"kind": "repository", "host": "github.com", "owner": "o", "name": "r"}


@pytest.mark.parametrize(
    ("data", "headers", "status", "code"),
    [
        ('{"kind": "repo', {"Content-Type": "application/json"}, 400, "invalid_json"),
        ("[1, 2]", {"Content-Type": "application/json"}, 422, "validation_error"),
        ('"just a string"', {"Content-Type": "application/json"}, 422, "validation_error"),
        ("null", {"Content-Type": "application/json"}, 422, "validation_error"),
        (
            "kind=owner&host=github.com&owner=o",
            {"Content-Type": "application/x-www-form-urlencoded"},
            415,
            "unsupported_media_type",
        ),
        ('{"kind": "owner"}', {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
        ('{"kind": "owner"}', {}, 415, "unsupported_media_type"),
        (b"\xff\xfe\x00garbage", {"Content-Type": "application/json"}, 400, "invalid_json"),
    ],
)
def test_malformed_bodies(live_server, state_snapshot, data, headers, status, code):
    before = state_snapshot()
    resp = _post(f"{live_server}/api/v1/requests", data=data, headers=headers)
    _error(resp, status, code)
    assert state_snapshot() == before


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"kind": 3}, "kind"),
        ({"kind": "everything"}, "kind"),
        ({"host": ["github.com"]}, "host"),
        ({"owner": None}, "owner"),
        ({"name": {"x": 1}}, "name"),
        ({"line": "12"}, "line"),
        ({"line": 1.5}, "line"),
        ({"line": True}, "line"),
        ({"extra": "field"}, "extra"),
        ({"status": "approved"}, "status"),
        ({"notes": "x" * 4001}, "notes"),
    ],
)
def test_wrong_types_and_unknown_fields(live_server, state_snapshot, patch, field):
    before = state_snapshot()
    resp = _post(f"{live_server}/api/v1/requests", json={**GOOD, **patch})
    error = _error(resp, 422, "validation_error")
    assert field in error["details"]["fields"]["json"]
    assert state_snapshot() == before


def test_oversize_body_is_413(live_server, state_snapshot):
    before = state_snapshot()
    body = {**GOOD, "notes": "x" * 70_000}
    resp = _post(f"{live_server}/api/v1/requests", json=body)
    _error(resp, 413, "payload_too_large")
    assert state_snapshot() == before


def test_oversize_chunked_body_is_refused(live_server, state_snapshot):
    before = state_snapshot()

    def chunks():
        yield b'{"kind": "owner", "host": "github.com", "owner": "o", "notes": "'
        for _ in range(100):
            yield b"x" * 1000
        yield b'"}'

    resp = _post(
        f"{live_server}/api/v1/requests",
        data=chunks(),
        headers={"Content-Type": "application/json"},
    )
    assert resp.status_code in (400, 413)
    assert "error" in resp.json()
    assert state_snapshot() == before


def test_unknown_route_and_method(live_server):
    _error(requests.get(f"{live_server}/api/v1/nowhere", timeout=5), 404, "not_found")
    resp = requests.delete(f"{live_server}/api/v1/requests", timeout=5)
    error = _error(resp, 405, "method_not_allowed")
    assert error["message"]
    assert "GET" in resp.headers["Allow"]


def test_transition_body_errors(live_server, factory, state_snapshot):
    _user, token = factory.user("reviewer")
    req, _ = factory.request("repository", "verified")
    url = f"{live_server}/api/v1/requests/{req.id}/transitions"
    auth = {"Authorization": f"Bearer {token}", "If-Match": f'"r{req.id}-v{req.version}"'}
    before = state_snapshot()
    _error(_post(url, json={"to": "heaven"}, headers=auth), 422, "validation_error")
    _error(_post(url, json={"to": "approved", "why": "x"}, headers=auth), 422, "validation_error")
    _error(
        _post(url, json={"to": "rejected", "reason": "x" * 2001}, headers=auth),
        422,
        "validation_error",
    )
    _error(_post(url, data="to=approved", headers=auth), 415, "unsupported_media_type")
    assert state_snapshot() == before


def test_nul_characters_are_refused_everywhere(live_server, factory, state_snapshot):
    _user, token = factory.user("reviewer")
    auth = {"Authorization": f"Bearer {token}"}
    before = state_snapshot()
    answers = [
        _post(f"{live_server}/api/v1/requests", json={**GOOD, "notes": "a\x00b"}),
        requests.get(f"{live_server}/api/v1/requests", params={"q": "a\x00b"}, headers=auth,
                     timeout=5),
        requests.get(f"{live_server}/lookup", params={"q": "a\x00b"}, timeout=5),
    ]
    for resp in answers:
        assert resp.status_code == 422, resp.text
    assert answers[0].json()["error"]["code"] == "nul_character"
    assert state_snapshot() == before


def test_nul_is_found_wherever_the_json_escapes_it(live_server, state_snapshot):
    before = state_snapshot()
    for body in [
        '{"kind": "owner", "host": "github.com", "owner": "octo", "notes": "x\\u0000"}',
        '{"kind": "owner", "host": "github.com", "owner": "octo", "n\\u0000": 1}',
        '[{"a": ["\\u0000"]}]',
    ]:
        resp = _post(f"{live_server}/api/v1/requests", data=body,
                     headers={"Content-Type": "application/json"})
        assert resp.status_code == 422, resp.text
        assert resp.json()["error"]["code"] == "nul_character"
    assert state_snapshot() == before
    # A backslash followed by "u0000" is ordinary text, not a NUL.
    resp = _post(f"{live_server}/api/v1/requests",
                 json={**GOOD, "notes": "the escape \\u0000 in C"})
    assert resp.status_code == 201, resp.text
    assert resp.json()["request"]["notes"] == "the escape \\u0000 in C"
