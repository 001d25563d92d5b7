"""The request workflow over real HTTP: submission, reading, transitions, listing."""

from __future__ import annotations

import datetime as dt

import pytest

from server.models import Request, RequestEvent
from shared import states
from shared.client import ApiClientError
from tests.audit_log import audit_count, audit_records
from tests.factories import SCOPES


def _counts():
    return (Request.select().count(), RequestEvent.select().count(), audit_count())


@pytest.fixture
def reviewer(api, factory):
    _user, token = factory.user(states.REVIEWER)
    return api(token)


@pytest.mark.parametrize("preset", sorted(SCOPES))
def test_submit_each_kind_gives_a_receipt(api, preset):
    receipt = api().submit(**SCOPES[preset])
    req = receipt["request"]
    assert req["kind"] == preset and req["state"] == states.RECEIVED
    assert receipt["status_token"].startswith("opts_")
    assert "status token" in receipt["next"]
    assert req["allowed_transitions"] == [states.CONFIRMED, states.WITHDRAWN]
    stored = Request.get_by_id(req["id"])
    assert stored.status_token_hash != receipt["status_token"]
    assert receipt["status_token"] not in stored.status_token_hash


def test_scope_is_normalised_and_described(api):
    receipt = api().submit(
        "file", "GitLab.COM.", "Group/Sub", name="proj.git", path="docs/a b.md", line=3
    )
    req = receipt["request"]
    assert (req["host"], req["owner"], req["name"]) == ("gitlab.com", "Group/Sub", "proj")
    assert req["scope"] == "the file docs/a b.md (line 3) in gitlab.com/Group/Sub/proj"


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"kind": "repository", "host": "github.com", "owner": "a"}, "missing_field", "name"),
        (
            {"kind": "owner", "host": "github.com", "owner": "a", "name": "b"},
            "field_not_allowed",
            "name",
        ),
        ({"kind": "owner", "host": "localhost", "owner": "a"}, "invalid_host", "host"),
        ({"kind": "owner", "host": "github.com", "owner": "a b"}, "invalid_owner", "owner"),
        ({"kind": "owner", "host": "github.com", "owner": "../etc"}, "invalid_owner", "owner"),
        (
            {"kind": "repository", "host": "github.com", "owner": "a", "name": "x/y"},
            "invalid_name",
            "name",
        ),
        (
            {"kind": "file", "host": "github.com", "owner": "a", "name": "b", "path": "../x"},
            "invalid_path",
            "path",
        ),
        (
            {
                "kind": "file",
                "host": "github.com",
                "owner": "a",
                "name": "b",
                "path": "/etc/passwd",
            },
            "invalid_path",
            "path",
        ),
        (
            {
                "kind": "file",
                "host": "github.com",
                "owner": "a",
                "name": "b",
                "path": "x",
                "content_sha256": "z" * 64,
            },
            "invalid_sha256",
            "content_sha256",
        ),
    ],
)
def test_bad_scopes_are_refused_and_nothing_is_stored(api, body, code, field):
    before = _counts()
    with pytest.raises(ApiClientError) as caught:
        api().submit(**body)
    assert (caught.value.status, caught.value.code) == (422, code)
    assert caught.value.details["field"] == field
    assert _counts() == before


def test_full_lifecycle_with_history(api, factory, reviewer):
    receipt = api().submit(**SCOPES["repository"])
    rid = receipt["request"]["id"]
    owner = api(receipt["status_token"])
    current = owner.get_request(rid)
    current = owner.transition(rid, states.CONFIRMED, current.etag)
    current = reviewer.transition(rid, states.VERIFIED, current.etag, reason="token file found")
    current = reviewer.transition(rid, states.APPROVED, current.etag)
    assert current.data["state"] == states.APPROVED
    history = current.data["history"]
    assert [(e["from_state"], e["to_state"]) for e in history] == [
        (None, "received"),
        ("received", "confirmed"),
        ("confirmed", "verified"),
        ("verified", "approved"),
    ]
    assert history[2]["reason"] == "token file found"
    assert history[1]["actor_role"] == "owner" and history[2]["actor_role"] == "reviewer"
    actions = [a.action for a in audit_records()]
    assert actions[-4:] == [
        "request.received",
        "request.confirmed",
        "request.verified",
        "request.approved",
    ]
    assert all(
        a.subject == f"request:{rid}"
        for a in audit_records()
        if a.action.startswith("request.")
    )


def test_owner_withdraws_before_publication(api):
    receipt = api().submit(**SCOPES["owner"])
    owner = api(receipt["status_token"])
    rid = receipt["request"]["id"]
    got = owner.transition(rid, states.WITHDRAWN, owner.get_request(rid).etag)
    assert got.data["state"] == states.WITHDRAWN
    assert got.data["allowed_transitions"] == []


def test_owner_sees_only_their_own_request(api, factory):
    mine = api().submit(**SCOPES["owner"])
    other, _token = factory.request("repository")
    owner = api(mine["status_token"])
    with pytest.raises(ApiClientError) as caught:
        owner.get_request(other.id)
    assert caught.value.status == 404
    with pytest.raises(ApiClientError) as caught:
        owner.transition(other.id, states.WITHDRAWN, f"r{other.id}-v1")
    assert caught.value.status == 404
    with pytest.raises(ApiClientError) as caught:
        owner.list_requests()
    assert caught.value.status == 403


@pytest.mark.parametrize(
    ("state", "target", "code", "status"),
    [
        (states.RECEIVED, states.APPROVED, "invalid_transition", 409),
        (states.RECEIVED, states.PUBLISHED, "invalid_transition", 409),
        (states.APPROVED, states.PUBLISHED, "transition_forbidden", 403),
        (states.RECEIVED, states.CONFIRMED, "transition_forbidden", 403),
        (states.CONFIRMED, states.WITHDRAWN, "transition_forbidden", 403),
        (states.PUBLISHED, states.APPROVED, "invalid_transition", 409),
        (states.CONFIRMED, states.VERIFIED, "reason_required", 422),
        (states.VERIFIED, states.REJECTED, "reason_required", 422),
    ],
)
def test_invalid_transitions_are_refused_and_change_nothing(
    factory, reviewer, state, target, code, status
):
    req, _token = factory.request("repository", state)
    before = _counts()
    with pytest.raises(ApiClientError) as caught:
        reviewer.transition(req.id, target, f"r{req.id}-v{req.version}")
    assert (caught.value.status, caught.value.code) == (status, code)
    assert _counts() == before
    assert Request.get_by_id(req.id).version == req.version


def test_blank_reason_counts_as_missing(factory, reviewer):
    req, _ = factory.request("repository", states.VERIFIED)
    with pytest.raises(ApiClientError) as caught:
        reviewer.transition(req.id, states.REJECTED, f"r{req.id}-v{req.version}", reason="   ")
    assert caught.value.code == "reason_required"


def test_stale_etag_gets_412_and_the_first_action_stands(api, factory):
    req, _ = factory.request("repository", states.VERIFIED)
    _u1, t1 = factory.user(states.REVIEWER)
    _u2, t2 = factory.user(states.REVIEWER)
    alice, bob = api(t1), api(t2)
    seen_by_both = alice.get_request(req.id).etag
    assert bob.get_request(req.id).etag == seen_by_both
    alice.transition(req.id, states.APPROVED, seen_by_both)
    before = _counts()
    with pytest.raises(ApiClientError) as caught:
        bob.transition(req.id, states.REJECTED, seen_by_both, reason="spam")
    assert (caught.value.status, caught.value.code) == (412, "precondition_failed")
    assert caught.value.details["state"] == states.APPROVED
    assert _counts() == before
    assert Request.get_by_id(req.id).state == states.APPROVED


def test_concurrent_transitions_on_one_version_let_exactly_one_win(api, factory):
    from concurrent.futures import ThreadPoolExecutor

    req, _ = factory.request("repository", states.VERIFIED)
    tokens = [factory.user(states.REVIEWER)[1] for _ in range(6)]
    etag = f"r{req.id}-v{req.version}"

    def act(i):
        try:
            target = states.APPROVED if i % 2 else states.REJECTED
            api(tokens[i]).transition(req.id, target, etag, reason=f"reviewer {i}")
            return 200
        except ApiClientError as error:
            return error.status

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(act, range(6)))
    assert sorted(results) == [200] + [412] * 5
    assert RequestEvent.select().where(RequestEvent.request == req.id).count() == 4


def test_if_match_is_required(live_server, factory, reviewer):
    import requests

    req, _ = factory.request("repository", states.VERIFIED)
    resp = requests.post(
        f"{live_server}/api/v1/requests/{req.id}/transitions",
        json={"to": "approved"},
        timeout=5,
        headers={"Authorization": f"Bearer {reviewer.token}"},
    )
    assert resp.status_code == 428
    assert resp.json()["error"]["code"] == "precondition_required"
    resp = requests.post(
        f"{live_server}/api/v1/requests/{req.id}/transitions",
        json={"to": "approved"},
        timeout=5,
        headers={"Authorization": f"Bearer {reviewer.token}", "If-Match": "*"},
    )
    assert resp.status_code == 428
    assert Request.get_by_id(req.id).state == states.VERIFIED


def test_read_sets_etag_header(live_server, factory, reviewer):
    import requests

    req, _ = factory.request("owner")
    resp = requests.get(
        f"{live_server}/api/v1/requests/{req.id}",
        timeout=5,
        headers={"Authorization": f"Bearer {reviewer.token}"},
    )
    assert resp.headers["ETag"] == f'"r{req.id}-v1"'
    assert resp.json()["etag"] == f"r{req.id}-v1"


def test_unknown_request_is_404(reviewer):
    with pytest.raises(ApiClientError) as caught:
        reviewer.get_request(999_999)
    assert (caught.value.status, caught.value.code) == (404, "not_found")


# --- listing --------------------------------------------------------------------------


@pytest.fixture
def catalogue(factory):
    made = {
        "a": factory.request("repository", states.RECEIVED, owner="alpha", name="one")[0],
        "b": factory.request("owner", states.CONFIRMED, owner="beta")[0],
        "c": factory.request(
            "file", states.VERIFIED, owner="gamma", name="proj", notes="leaks my E-mail_address"
        )[0],
        "d": factory.request("license", states.APPROVED, owner="delta")[0],
    }
    # Age the first one by ten days.
    old = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=10)
    Request.update(created_at=old).where(Request.id == made["a"].id).execute()
    return made


def _ids(page):
    return [item["id"] for item in page["items"]]


def test_list_filters(reviewer, catalogue):
    c = catalogue
    assert _ids(reviewer.list_requests(state="confirmed")) == [c["b"].id]
    assert sorted(_ids(reviewer.list_requests(state=["confirmed", "verified"]))) == sorted(
        [c["b"].id, c["c"].id]
    )
    assert _ids(reviewer.list_requests(kind="license")) == [c["d"].id]
    assert _ids(reviewer.list_requests(host="GitLab.com")) == [c["c"].id]
    assert _ids(reviewer.list_requests(min_age_days=5)) == [c["a"].id]
    assert c["a"].id not in _ids(reviewer.list_requests(max_age_days=5))
    assert _ids(reviewer.list_requests(q="GAMMA")) == [c["c"].id]
    assert _ids(reviewer.list_requests(q="e-mail_")) == [c["c"].id]
    assert _ids(reviewer.list_requests(q="%")) == []  # wildcards are literal


def test_list_sorts_and_pages(reviewer, catalogue):
    everything = reviewer.list_requests(sort="id", per_page=200)
    ids = _ids(everything)
    assert everything["total"] == 4 and ids == sorted(ids)
    assert _ids(reviewer.list_requests(sort="-id")) == ids[::-1]
    assert _ids(reviewer.list_requests(sort="created"))[0] == catalogue["a"].id
    page1 = reviewer.list_requests(sort="id", per_page=3, page=1)
    page2 = reviewer.list_requests(sort="id", per_page=3, page=2)
    assert _ids(page1) + _ids(page2) == ids and page2["total"] == 4
    assert _ids(reviewer.list_requests(sort="id", per_page=3, page=9)) == []


@pytest.mark.parametrize(
    "params",
    [
        {"state": "nonsense"},
        {"kind": "org"},
        {"per_page": 0},
        {"per_page": 201},
        {"page": 0},
        {"sort": "owner"},
        {"min_age_days": -1},
        {"per_page": "x"},
        {"bogus": 1},
    ],
)
def test_list_rejects_bad_parameters(reviewer, params):
    with pytest.raises(ApiClientError) as caught:
        reviewer.list_requests(**params)
    assert (caught.value.status, caught.value.code) == (422, "validation_error")


def test_scope_parsing_over_the_api(live_server):
    import requests

    text = "https://github.com/Foo/Bar.git\njavascript:alert(1)\n\ngitlab.com/g/s/p"
    resp = requests.post(f"{live_server}/api/v1/scopes/parse", timeout=10,
                         json={"text": text, "kind": "repository"})
    assert resp.status_code == 200, resp.text
    lines = resp.json()["lines"]
    assert [line["line"] for line in lines] == [1, 2, 4]
    assert lines[0]["scope"]["describe"] == "the repository github.com/Foo/Bar"
    assert lines[1]["scope"] is None and lines[1]["error"]["code"] == "unsupported_scheme"
    assert lines[2]["note"] and lines[2]["scope"]["owner"] == "g/s"
    assert Request.select().count() == 0  # parsing creates nothing
    widen = requests.post(f"{live_server}/api/v1/scopes/parse", timeout=10,
                          json={"text": "github.com/a/b", "kind": "owner"})
    assert widen.json()["lines"][0]["error"]["code"] == "would_widen"
    broken = requests.post(f"{live_server}/api/v1/scopes/parse", timeout=10,
                           json={"text": "http://[::1/x\ngithub.com/a/b"})
    assert broken.status_code == 200, broken.text
    assert [line["error"]["code"] if line["error"] else None
            for line in broken.json()["lines"]] == ["invalid_url", None]


def test_the_receipt_carries_the_owner_status_link(app, live_server):
    import requests

    app.config["PUBLIC_URL"] = "https://optout.example/"
    resp = requests.post(f"{live_server}/api/v1/requests", timeout=10,
                         json={"kind": "owner", "host": "github.com", "owner": "octo"})
    assert resp.status_code == 201, resp.text
    receipt = resp.json()
    assert receipt["status_url"] == (
        f"https://optout.example/status?t={receipt['status_token']}")
    page = requests.get(live_server + receipt["status_url"].removeprefix("https://optout.example"),
                        timeout=10)
    assert page.status_code == 200 and "octo" in page.text


def _walk(reviewer, **params):
    """Every row of a listing, following next_cursor a page at a time."""
    page = reviewer.list_requests(**params)
    seen = _ids(page)
    while page["next_cursor"]:
        page = reviewer.list_requests(**params, after=page["next_cursor"])
        seen += _ids(page)
    return seen


@pytest.mark.parametrize(
    "sort", ["created", "-created", "updated", "-updated", "state", "-state", "kind", "-kind",
             "host", "-host", "id", "-id"],
)
def test_cursor_pages_follow_the_sort_order_exactly(reviewer, factory, catalogue, sort):
    for n in range(7):  # ties on every column but id, so the id breaks them
        factory.request("repository", states.RECEIVED, owner=f"tied{n}", name="same")
    whole = reviewer.list_requests(sort=sort, per_page=200)
    assert whole["next_cursor"] is None
    assert _walk(reviewer, sort=sort, per_page=2) == _ids(whole)
    assert _walk(reviewer, sort=sort, per_page=3, state="received") == _ids(
        reviewer.list_requests(sort=sort, per_page=200, state="received"))


def test_a_cursor_never_skips_a_row_when_the_queue_changes(reviewer, factory):
    made = [factory.request("repository", states.RECEIVED, owner=f"o{n}", name="r")[0]
            for n in range(6)]
    first = reviewer.list_requests(state="received", sort="id", per_page=2)
    assert _ids(first) == [made[0].id, made[1].id] and first["total"] == 6
    # A reviewer decides the two rows just seen: they leave the "received" filter.
    Request.update(state=states.CONFIRMED).where(Request.id << _ids(first)).execute()
    by_offset = reviewer.list_requests(state="received", sort="id", per_page=2, page=2)
    assert _ids(by_offset) == [made[4].id, made[5].id]  # offsets skip made[2] and made[3]
    by_cursor = reviewer.list_requests(state="received", sort="id", per_page=2,
                                       after=first["next_cursor"])
    assert _ids(by_cursor) == [made[2].id, made[3].id]
    # A row that joins behind the cursor is not shown twice; one ahead of it is reached.
    late = factory.request("repository", states.RECEIVED, owner="late", name="r")[0]
    rest = reviewer.list_requests(state="received", sort="id", per_page=5,
                                  after=by_cursor["next_cursor"])
    assert _ids(rest) == [made[4].id, made[5].id, late.id] and rest["next_cursor"] is None


def test_offset_pages_also_give_a_cursor_to_continue(reviewer, catalogue):
    ids = _ids(reviewer.list_requests(sort="id", per_page=200))
    page1 = reviewer.list_requests(sort="id", per_page=3)
    assert page1["next_cursor"]
    rest = reviewer.list_requests(sort="id", per_page=3, after=page1["next_cursor"])
    assert _ids(page1) + _ids(rest) == ids and rest["next_cursor"] is None


def _cursor(parts) -> str:
    import base64
    import json

    raw = json.dumps(parts).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "after",
    [
        "not base64 !",
        "AAAA",
        _cursor(["id", 1]),
        _cursor(["-id", 5, 5]),  # made for another sort
        _cursor(["id", "5", 5]),
        _cursor(["id", 5, -1]),
        _cursor(["id", 5, 2**70]),
        _cursor(["id", True, 5]),
        _cursor({"sort": "id"}),
    ],
)
def test_a_bad_cursor_is_refused_with_its_own_code(reviewer, catalogue, after):
    with pytest.raises(ApiClientError) as caught:
        reviewer.list_requests(sort="id", after=after)
    assert (caught.value.status, caught.value.code) == (422, "invalid_cursor")


@pytest.mark.parametrize(
    ("sort", "parts"),
    [
        ("created", ["created", "yesterday", 1]),
        ("created", ["created", "2026-01-01T00:00:00+02:00", 1]),
        ("created", ["created", 5, 1]),
        ("host", ["host", 5, 1]),
        ("host", ["host", "x" * 400, 1]),
        ("host", ["host", "a\u0000b", 1]),
    ],
)
def test_a_cursor_value_of_the_wrong_type_is_refused(reviewer, catalogue, sort, parts):
    with pytest.raises(ApiClientError) as caught:
        reviewer.list_requests(sort=sort, after=_cursor(parts))
    assert (caught.value.status, caught.value.code) == (422, "invalid_cursor")


def test_a_cursor_and_a_page_are_not_sent_together(reviewer, catalogue):
    cursor = reviewer.list_requests(sort="id", per_page=1)["next_cursor"]
    with pytest.raises(ApiClientError) as caught:
        reviewer.list_requests(sort="id", per_page=1, page=2, after=cursor)
    assert (caught.value.status, caught.value.code) == (422, "invalid_cursor")
