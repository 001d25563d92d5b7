"""What schemathesis found, pinned as plain requests against the real server.

Each test is one finding, reduced to the requests that show it, kept so it stays fixed.
"""

from __future__ import annotations

import pytest
import requests

pytestmark = pytest.mark.slow

TIMEOUT = (2.0, 10.0)


def is_json_error(resp: requests.Response) -> bool:
    return resp.headers.get("Content-Type", "").startswith("application/json") and (
        resp.status_code < 400 or set(resp.json()) == {"error"}
    )


def submit(served) -> dict:
    resp = requests.post(
        f"{served.api_url}/requests",
        json={"kind": "owner", "host": "github.com", "owner": "someone"},
        timeout=TIMEOUT,
    )
    assert resp.status_code == 201, resp.text
    return resp.json()["request"]


def test_out_of_range_request_ids_are_404(served):
    """Fixed: ``GET /requests/13702605633387266581711829336064`` answered 500 on SQLite.

    (``OverflowError: Python int too large to convert to SQLite INTEGER``)
    """
    submit(served)
    auth = served.auth | {"If-Match": '"r1-v1"'}
    for request_id in (2**31, 2**63, 2**64, 13702605633387266581711829336064):
        read = requests.get(f"{served.api_url}/requests/{request_id}", headers=auth, timeout=5)
        move = requests.post(
            f"{served.api_url}/requests/{request_id}/transitions",
            json={"to": "rejected", "reason": "spam"},
            headers=auth,
            timeout=TIMEOUT,
        )
        for resp in (read, move):
            assert resp.status_code == 404, (request_id, resp.status_code, resp.text)
            assert resp.json()["error"]["code"] == "not_found"


def test_nul_characters_never_cause_a_server_error(served):
    """Fixed: PostgreSQL refuses NUL in text; each of these answered 500 there.

    (``ValueError: A string literal cannot contain NUL (0x00) characters.`` from psycopg2)
    Now every one is refused up front with 422 ``nul_character``.
    """
    target = submit(served)
    api, auth = served.api_url, served.auth
    answers = {
        "list q": requests.get(f"{api}/requests", params={"q": "a\x00b"}, headers=auth, timeout=5),
        "list host": requests.get(
            f"{api}/requests", params={"host": "a\x00b"}, headers=auth, timeout=5
        ),
        "submit notes": requests.post(
            f"{api}/requests",
            json={"kind": "owner", "host": "github.com", "owner": "nul", "notes": "a\x00b"},
            timeout=TIMEOUT,
        ),
        "revoke name": requests.post(f"{api}/users/a%00b/revoke", json={}, headers=auth, timeout=5),
        "transition reason": requests.post(
            f"{api}/requests/{target['id']}/transitions",
            json={"to": "rejected", "reason": "a\x00b"},
            headers=auth | {"If-Match": f'"{target["etag"]}"'},
            timeout=TIMEOUT,
        ),
    }
    failures = {
        what: f"{resp.status_code} {resp.text[:200]}"
        for what, resp in answers.items()
        if resp.status_code != 422 or resp.json()["error"]["code"] != "nul_character"
    }
    assert not failures


def test_the_longest_valid_query_gets_a_json_answer(served):
    """Fixed: gunicorn refused request lines over 4094 bytes itself, with a 414 in text/html.

    The spec now bounds every query parameter (DNS-shaped hosts, bounded lists) and the
    server accepts request lines up to 8190 bytes, so the longest valid query is answered
    in JSON, and a non-ASCII host is a 422, not a 414.
    """
    params = {
        "host": "a" * 253,
        "q": "\N{MUSICAL SYMBOL G CLEF}" * 200,
        "state": [
            "received",
            "confirmed",
            "verified",
            "approved",
            "rejected",
            "published",
            "needs_info",
            "withdrawn",
            "reverted",
        ],
        "kind": ["owner", "repository", "file", "license"],
        "sort": "-updated",
        "per_page": 200,
    }
    resp = requests.get(
        f"{served.api_url}/requests", params=params, headers=served.auth, timeout=TIMEOUT
    )
    assert resp.status_code == 200, (resp.status_code, resp.headers.get("Content-Type"))
    assert resp.json()["items"] == []
    bad = requests.get(
        f"{served.api_url}/requests",
        params={**params, "host": "é" * 253},
        headers=served.auth,
        timeout=TIMEOUT,
    )
    assert bad.status_code == 422 and is_json_error(bad)
