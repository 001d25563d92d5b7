"""The owners' web pages over real HTTP with a cookie-keeping `requests` session."""

from __future__ import annotations

import re
import uuid

import pytest
import requests

from server.models import Request, RequestEvent
from shared import states

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


class Browser:
    """A minimal no-JavaScript browser: GET a page, fill its form, POST it."""

    def __init__(self, base: str):
        self.base = base
        self.session = requests.Session()

    def get(self, path: str, **kwargs):
        return self.session.get(self.base + path, timeout=10, **kwargs)

    def post(self, path: str, data: dict, page=None, csrf=True):
        if csrf:
            source = page or self.get("/requests/new")
            data = {"csrf_token": CSRF.search(source.text).group(1), **data}
        return self.session.post(self.base + path, data=data, timeout=10, allow_redirects=True)

    def submit(self, scopes: str, kind: str = "repository", host: str = "github.com", notes=""):
        return self.post("/requests/new", {"kind": kind, "host": host, "scopes": scopes,
                                           "notes": notes})

    @staticmethod
    def status_links(page) -> list[str]:
        return re.findall(r'class="status-link" href="([^"]+)"', page.text)

    def action(self, status_page, name: str):
        form = re.search(rf'<form method="post" action="(/status/{name})">(.*?)</form>',
                         status_page.text, re.S)
        assert form, f"no {name} button on the page"
        fields = dict(re.findall(r'name="(\w+)" type="hidden" value="([^"]*)"', form.group(2)))
        return self.session.post(self.base + form.group(1), data=fields, timeout=10)


@pytest.fixture
def browser(live_server):
    return Browser(live_server)


def _state(page) -> str:
    return re.search(r'id="state">([^<]+)<', page.text).group(1)


def test_pages_carry_security_headers_and_work_without_js(browser):
    page = browser.get("/")
    assert page.status_code == 200
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert "<script" not in page.text
    form = browser.get("/requests/new")
    for label_for in ("scopes", "host", "notes"):
        assert f'<label for="{label_for}"' in form.text


def test_submit_confirm_and_follow(browser):
    receipt = browser.submit("https://github.com/Foo/Bar.git\ngitlab.com/group/sub/project")
    assert receipt.status_code == 201
    links = browser.status_links(receipt)
    assert len(links) == 2
    assert "shown only once" in receipt.text
    assert "the repository github.com/Foo/Bar" in receipt.text
    assert "group/sub" in receipt.text  # the nested reading is explained
    status = browser.session.get(links[0], timeout=10)
    assert _state(status) == "received"
    assert status.headers["Cache-Control"] == "no-store"
    confirmed = browser.action(status, "confirm")
    assert confirmed.status_code == 200 and confirmed.history[0].status_code == 303
    assert _state(confirmed) == "confirmed"
    assert "you" in confirmed.text  # history names the owner as "you"


def test_replayed_confirmation_changes_nothing(browser):
    links = browser.status_links(browser.submit("octo/one"))
    status = browser.session.get(links[0], timeout=10)
    browser.action(status, "confirm")
    events = RequestEvent.select().count()
    replay = browser.action(status, "confirm")  # the same form, posted again
    assert replay.status_code == 412
    assert "changed since you loaded the page" in replay.text
    assert _state(replay) == "confirmed"
    assert RequestEvent.select().count() == events


@pytest.mark.parametrize("token", [
    "opts_" + "A" * 43, "opts_guess", "optr_" + "A" * 43, "", "x" * 5000, "opts_%00",
])
def test_forged_or_guessed_status_links_are_404(browser, token):
    browser.submit("octo/one")
    page = browser.get("/status", params={"t": token})
    assert page.status_code == 404
    assert "check that you copied all of it" in page.text


def test_forged_token_cannot_act(browser):
    links = browser.status_links(browser.submit("octo/one"))
    status = browser.session.get(links[0], timeout=10)
    fields = dict(re.findall(r'name="(\w+)" type="hidden" value="([^"]*)"', status.text))
    fields["t"] = "opts_" + "B" * 43
    resp = browser.session.post(browser.base + "/status/confirm", data=fields, timeout=10)
    assert resp.status_code == 404
    assert Request.select().where(Request.state == states.CONFIRMED).count() == 0


def test_posts_without_csrf_token_are_refused(browser):
    resp = browser.post("/requests/new", {"kind": "repository", "host": "github.com",
                                          "scopes": "a/b"}, csrf=False)
    assert resp.status_code == 400
    assert Request.select().count() == 0


def test_errors_are_shown_next_to_the_field(browser):
    page = browser.submit("github.com/ok/repo\njavascript:alert(1)\nhttps://github.com/x/y/tree/main/docs")
    assert page.status_code == 422
    assert 'aria-invalid="true"' in page.text
    assert 'id="scopes-error"' in page.text and 'aria-describedby="scopes-help scopes-error"' in page.text
    assert "Line 2: this is not a repository address" in page.text
    assert "Line 3: this is a folder" in page.text
    assert Request.select().count() == 0  # all or nothing


def test_widening_is_refused_on_the_form(browser):
    page = browser.submit("https://github.com/octo/one", kind="owner")
    assert page.status_code == 422
    assert "names a repository, not a whole account" in page.text


def test_withdraw_then_never_published(browser, factory):
    from server.errors import ApiError
    from server.workflows.requests import system_transition

    links = browser.status_links(browser.submit("octo/one"))
    status = browser.session.get(links[0], timeout=10)
    withdrawn = browser.action(status, "withdraw")
    assert _state(withdrawn) == "withdrawn"
    assert 'action="/status/confirm"' not in withdrawn.text
    req = Request.get()
    with pytest.raises(ApiError) as caught:
        system_transition(req, states.PUBLISHED, "publish")
    assert caught.value.code == "invalid_transition"
    assert Request.get_by_id(req.id).state == states.WITHDRAWN
    # Withdrawn after approval: still never published.
    approved, _ = factory.request("repository", states.APPROVED, owner="other")
    from server.auth import Principal
    from server.workflows.requests import etag_of, transition_request

    transition_request(approved.id, states.WITHDRAWN, None,
                       Principal(states.OWNER, "owner", request_id=approved.id),
                       {etag_of(approved)})
    with pytest.raises(ApiError):
        system_transition(Request.get_by_id(approved.id), states.PUBLISHED, "publish")


def test_reinclusion_after_publication(browser, factory, api):
    req, token = factory.request("repository", states.PUBLISHED)
    status = browser.get("/status", params={"t": token})
    assert _state(status) == "published"
    asked = browser.action(status, "reinclusion")
    assert "a reviewer will decide" in asked.text
    assert 'action="/status/reinclusion"' not in asked.text
    reviewer = api(factory.user("reviewer")[1])
    listed = reviewer.list_requests(reinclusion_requested="true")
    assert [r["id"] for r in listed["items"]] == [req.id]
    current = reviewer.get_request(req.id)
    reverted = reviewer.transition(req.id, states.REVERTED, current.etag, reason="owner asked")
    assert reverted.data["state"] == states.REVERTED


def test_lookup_page(browser, factory):
    factory.request("owner", states.CONFIRMED, owner="Octo-Org")
    page = browser.get("/lookup", params={"q": "https://github.com/octo-org", "host": ""})
    assert page.status_code == 200
    assert "every repository of github.com/octo-org" in page.text.lower()
    assert "confirmed" in page.text
    bad = browser.get("/lookup", params={"q": "javascript:alert(1)"})
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.text


# --- rate limiting ------------------------------------------------------------------------


@pytest.fixture(params=["memory", "redis"])
def limited_server(request, database_url, instance):
    """An app with a tight submission limit, on memory or on the Redis server."""
    import threading

    from werkzeug.serving import make_server

    from server import create_app
    from server.db import db
    from server.migrate import upgrade

    storage = "memory://" if request.param == "memory" else "redis://127.0.0.1:6379"
    app = create_app({"DATABASE_URL": database_url, "SUBMIT_RATE_LIMIT": "3 per minute",
                      "RATELIMIT_STORAGE_URI": storage,
                      "RATELIMIT_NAMESPACE": "test-" + uuid.uuid4().hex})
    upgrade(db.obj)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)
    thread.start()
    with app.app_context():
        yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    if hasattr(db.obj, "close_all"):
        db.obj.close_all()


def test_form_and_api_share_one_submission_budget(limited_server):
    browser = Browser(limited_server)
    body = {"kind": "owner", "host": "github.com", "owner": "someone"}
    assert requests.post(limited_server + "/api/v1/requests", json=body, timeout=5).status_code == 201
    assert browser.submit("octo/one").status_code == 201
    assert requests.post(limited_server + "/api/v1/requests", json=body, timeout=5).status_code == 201
    refused = requests.post(limited_server + "/api/v1/requests", json=body, timeout=5)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) > 0
    page = browser.submit("octo/two")
    assert page.status_code == 429
    assert "Too many requests" in page.text and "Retry-After" in page.headers
    assert browser.get("/requests/new").status_code == 200  # reading the form is not limited
    assert Request.select().count() == 3


def test_lookups_have_their_own_budget(limited_server):
    from flask import current_app

    current_app.config["LOOKUP_RATE_LIMIT"] = "2 per minute"
    query = {"host": "github.com", "owner": "octocat"}
    answers = [requests.get(limited_server + "/api/v1/lookup", params=query, timeout=5)
               for _ in range(2)]
    answers.append(requests.get(limited_server + "/lookup", params={"q": "octocat"}, timeout=5))
    assert [a.status_code for a in answers] == [200, 200, 429]
    body = {"kind": "owner", "host": "github.com", "owner": "someone"}
    assert requests.post(limited_server + "/api/v1/requests", json=body, timeout=5).status_code == 201
