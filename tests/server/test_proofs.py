"""Proof of authority through the API, against a real fake forge and a real SMTP server."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
import socket
import time

import pytest

from server.models import Challenge, EmailProof, Evidence, Request, RequestEvent
from shared import states
from shared.client import ApiClientError
from tests.audit_log import audit_records
from tests.server.forge import running_forge

PATH = ".well-known/optout-challenge.txt"
HOSTS = ("github.com", "gitlab.com", "codeberg.org", "bitbucket.org")


@pytest.fixture
def forge(app):
    """A fake forge on loopback that every host's raw-file URLs point at."""
    with running_forge() as running:
        app.config.update(
            RAW_URL_TEMPLATES={h: running.url + "/{owner}/{name}/raw/{path}" for h in HOSTS},
            FETCH_ALLOW_PRIVATE=True,  # the forge is on loopback
            FETCH_TIMEOUT=2,
        )
        yield running


def raw(owner, name):
    return f"/{owner}/{name}/raw/{PATH}"


def owner_of(api, factory, preset="repository", state=states.CONFIRMED, **scope):
    req, token = factory.request(preset, state, **scope)
    return req, api(token)


def refusal(call, *args, **kwargs) -> ApiClientError:
    with pytest.raises(ApiClientError) as caught:
        call(*args, **kwargs)
    return caught.value


def audit_text() -> str:
    return " ".join(f"{r.raw.decode()} {r.reason}" for r in audit_records())


def test_challenge_in_the_repository_verifies_the_request(api, factory, forge):
    req, owner = owner_of(api, factory)
    challenge = owner.create_challenge(req.id)
    assert re.fullmatch(r"optout-verify-[0-9a-f]{32}", challenge["token"])
    assert challenge["path"] == PATH
    assert challenge["urls"] == [
        forge.url + raw("octocat", "hello"),
        forge.url + raw("octocat", "octocat"),
        forge.url + raw("octocat", ".github"),
    ]
    assert challenge["token"] in challenge["instructions"]
    forge.put(raw("octocat", "hello"), f"# proof for Optout\n  {challenge['token']}  \n")

    result = owner.check_challenges(req.id)

    assert result["verified"] is True and result["state"] == states.VERIFIED
    [report] = result["challenges"]
    assert report["verified_url"] == forge.url + raw("octocat", "hello")
    assert [c["outcome"] for c in report["checks"]] == ["found"]
    assert owner.get_request(req.id).data["state"] == states.VERIFIED
    [evidence] = owner.evidence(req.id)["evidence"]
    assert evidence["method"] == "challenge" and evidence["account"] == "octocat"
    assert evidence["detail"] == forge.url + raw("octocat", "hello")
    last = RequestEvent.select().where(RequestEvent.request == req.id).order_by(-RequestEvent.id)[0]
    assert (last.to_state, last.actor_role) == (states.VERIFIED, states.SYSTEM)
    assert f"evidence {evidence['id']}" in last.reason
    actions = [r.action for r in audit_records()]
    assert actions[-3:] == [
        "proof.challenge_created",
        "proof.challenge_verified",
        "request.verified",
    ]
    # The audit log cannot forget: it names records, not accounts, URLs or tokens.
    assert "octocat" not in audit_text() and challenge["token"] not in audit_text()


@pytest.mark.parametrize("profile", ["octocat", ".github"])
def test_challenge_in_a_profile_repository(api, factory, forge, profile):
    req, owner = owner_of(api, factory)
    token = owner.create_challenge(req.id)["token"]
    forge.put(raw("octocat", profile), token + "\n")
    result = owner.check_challenges(req.id)
    assert result["verified"] is True
    assert result["challenges"][0]["verified_url"] == forge.url + raw("octocat", profile)


def test_creating_a_challenge_again_returns_the_open_one(api, factory, forge):
    req, owner = owner_of(api, factory)
    first = owner.create_challenge(req.id)
    assert owner.create_challenge(req.id)["token"] == first["token"]
    assert Challenge.select().where(Challenge.request == req.id).count() == 1


@pytest.mark.parametrize(
    "content",
    ["optout-verify-0123456789abcdef0123456789abcdef\n", "prefix {token}\n", "{token}x\n", ""],
    ids=["other-token", "not-alone-on-its-line", "longer", "empty"],
)
def test_a_wrong_token_does_not_verify(api, factory, forge, content):
    req, owner = owner_of(api, factory)
    token = owner.create_challenge(req.id)["token"]
    forge.put(raw("octocat", "hello"), content.format(token=token))
    result = owner.check_challenges(req.id)
    assert result["verified"] is False and result["state"] == states.CONFIRMED
    outcomes = [c["outcome"] for c in result["challenges"][0]["checks"]]
    assert outcomes == ["token_missing", "fetch_http_error", "fetch_http_error"]
    assert Evidence.select().where(Evidence.request == req.id).count() == 0
    assert Challenge.get(Challenge.token == token).verified_at is None


def test_missing_files_are_reported_per_url(api, factory, forge):
    req, owner = owner_of(api, factory)
    owner.create_challenge(req.id)
    result = owner.check_challenges(req.id)
    checks = result["challenges"][0]["checks"]
    assert [(c["outcome"], c["status"]) for c in checks] == [("fetch_http_error", 404)] * 3
    assert "token was not found" in result["message"]


def test_an_expired_challenge_is_not_checked(api, factory, forge):
    req, owner = owner_of(api, factory)
    token = owner.create_challenge(req.id)["token"]
    forge.put(raw("octocat", "hello"), token)
    Challenge.update(expires_at=dt.datetime(2000, 1, 1)).where(Challenge.token == token).execute()
    error = refusal(owner.check_challenges, req.id)
    assert (error.status, error.code, error.details["expired"]) == (409, "no_open_challenge", 1)
    assert forge.hits == []
    assert owner.evidence(req.id)["challenges"][0]["expired"] is True
    fresh = owner.create_challenge(req.id)
    assert fresh["token"] != token and fresh["expired"] is False


def test_an_oversize_file_is_not_read(api, app, factory, forge):
    app.config["FETCH_MAX_BYTES"] = 1024
    req, owner = owner_of(api, factory)
    token = owner.create_challenge(req.id)["token"]
    forge.put(raw("octocat", "hello"), token + "\n" + "x" * 4096)
    result = owner.check_challenges(req.id)
    assert result["verified"] is False
    assert result["challenges"][0]["checks"][0]["outcome"] == "fetch_too_large"


def test_a_slow_forge_times_out(api, app, factory, forge):
    app.config["FETCH_TIMEOUT"] = 0.3
    req, owner = owner_of(api, factory)
    token = owner.create_challenge(req.id)["token"]
    for name in ("hello", "octocat", ".github"):
        forge.put(raw("octocat", name), token, delay=3)
    started = time.monotonic()
    result = owner.check_challenges(req.id)
    assert time.monotonic() - started < 2.5
    assert [c["outcome"] for c in result["challenges"][0]["checks"]] == ["fetch_timeout"] * 3
    assert result["state"] == states.CONFIRMED


def test_one_check_has_a_time_budget(api, app, factory, forge, monkeypatch):
    from server.workflows import proofs

    monkeypatch.setattr(proofs, "CHECK_BUDGET_SECONDS", 0.6)
    app.config["FETCH_TIMEOUT"] = 0.4
    req, owner = owner_of(api, factory)
    token = owner.create_challenge(req.id)["token"]
    for name in ("hello", "octocat", ".github"):
        forge.put(raw("octocat", name), token, delay=3)
    started = time.monotonic()
    checks = owner.check_challenges(req.id)["challenges"][0]["checks"]
    assert time.monotonic() - started < 2
    assert checks[0]["outcome"] == "fetch_timeout"
    assert checks[-1]["outcome"] == "not_checked"


def test_redirects_stay_on_the_forge(api, factory, forge):
    req, owner = owner_of(api, factory)
    token = owner.create_challenge(req.id)["token"]
    forge.redirect(raw("octocat", "hello"), f"http://localhost:{forge.port}/elsewhere")
    forge.redirect(raw("octocat", "octocat"), "/moved/profile.txt")
    forge.put("/moved/profile.txt", token)
    result = owner.check_challenges(req.id)
    outcomes = [c["outcome"] for c in result["challenges"][0]["checks"]]
    assert outcomes == ["fetch_redirect_refused", "found"]
    assert "/elsewhere" not in forge.paths()
    assert result["verified"] is True


@pytest.mark.parametrize(
    "template",
    [
        "http://127.0.0.1:{port}/{{owner}}/{{name}}/raw/{{path}}",
        "http://localhost:{port}/{{owner}}/{{name}}/raw/{{path}}",
        "http://[::1]:{port}/{{owner}}/{{name}}/raw/{{path}}",
        "http://169.254.169.254/{{owner}}/{{name}}/{{path}}",
    ],
    ids=["ipv4-loopback", "localhost", "ipv6-loopback", "link-local-metadata"],
)
def test_private_addresses_are_refused_when_not_allowed(api, app, factory, forge, template):
    app.config["FETCH_ALLOW_PRIVATE"] = False
    app.config["RAW_URL_TEMPLATES"] = {"github.com": template.format(port=forge.port)}
    req, owner = owner_of(api, factory)
    token = owner.create_challenge(req.id)["token"]
    forge.put(raw("octocat", "hello"), token)
    result = owner.check_challenges(req.id)
    checks = result["challenges"][0]["checks"]
    assert {c["outcome"] for c in checks} == {"fetch_private_address"}
    assert forge.hits == []
    assert result["state"] == states.CONFIRMED


def test_organisation_proof_in_its_own_profile_repository(api, factory, forge):
    req, owner = owner_of(api, factory, "owner")
    challenge = owner.create_challenge(req.id)
    assert challenge["account"] == "octo-org"
    assert challenge["urls"] == [forge.url + raw("octo-org", n) for n in ("octo-org", ".github")]
    forge.put(raw("octo-org", ".github"), challenge["token"])
    assert owner.check_challenges(req.id)["verified"] is True


def test_organisation_needs_two_distinct_members(api, factory, forge):
    req, owner = owner_of(api, factory, "owner")
    alice = owner.create_challenge(req.id, account="alice")
    assert alice["urls"] == [forge.url + raw("alice", n) for n in ("alice", ".github")]
    forge.put(raw("alice", "alice"), alice["token"])

    first = owner.check_challenges(req.id)
    assert first["verified"] is False and first["state"] == states.CONFIRMED
    assert "co-signature" in first["message"]
    # The same member again, in another case, is not a second member.
    error = refusal(owner.create_challenge, req.id, account="ALICE")
    assert error.code == "already_verified"
    assert refusal(owner.check_challenges, req.id).code == "no_open_challenge"

    bob = owner.create_challenge(req.id, account="bob")
    forge.put(raw("bob", ".github"), bob["token"])
    second = owner.check_challenges(req.id)
    assert second["verified"] is True and second["state"] == states.VERIFIED
    evidence = owner.evidence(req.id)["evidence"]
    assert [(e["method"], e["account"]) for e in evidence] == [
        ("challenge", "alice"),
        ("challenge", "bob"),
    ]
    reason = Request.get_by_id(req.id).events.order_by(-RequestEvent.id)[0].reason
    assert reason == (
        f"co-signed by two verified members (evidence {evidence[0]['id']}, {evidence[1]['id']})"
    )
    assert "alice" not in audit_text() and "bob" not in audit_text()


def test_member_challenges_are_for_organisation_requests_only(api, factory, forge):
    req, owner = owner_of(api, factory)
    error = refusal(owner.create_challenge, req.id, account="alice")
    assert (error.status, error.code) == (422, "account_not_allowed")
    # The request's own account, in any case, is not a member.
    assert owner.create_challenge(req.id, account="OctoCat")["account"] == "octocat"
    org, org_owner = owner_of(api, factory, "owner")
    for bad in ("group/sub", "../etc", "-dash", "white space"):
        error = refusal(org_owner.create_challenge, org.id, account=bad)
        assert (error.status, error.code) == (422, "invalid_account"), bad


def test_open_challenges_are_bounded(api, factory, forge):
    req, owner = owner_of(api, factory, "owner")
    for i in range(5):
        owner.create_challenge(req.id, account=f"member{i}")
    assert refusal(owner.create_challenge, req.id, account="member5").code == (
        "too_many_challenges"
    )


def test_hosts_without_a_template_cannot_use_challenges(api, app, factory, forge):
    app.config["RAW_URL_TEMPLATES"] = {}
    req, owner = owner_of(api, factory)
    error = refusal(owner.create_challenge, req.id)
    assert (error.status, error.code) == (409, "no_raw_template")
    assert Challenge.select().count() == 0


def test_a_verified_request_cannot_be_checked_again(api, factory, forge):
    req, owner = owner_of(api, factory)
    token = owner.create_challenge(req.id)["token"]
    forge.put(raw("octocat", "hello"), token)
    owner.check_challenges(req.id)
    hits = len(forge.hits)
    for call in (owner.check_challenges, owner.create_challenge):
        error = refusal(call, req.id)
        assert (error.status, error.code) == (409, "invalid_state")
        assert error.details["state"] == states.VERIFIED
    assert len(forge.hits) == hits
    assert Evidence.select().count() == 1


@pytest.mark.parametrize("state", [states.RECEIVED, states.NEEDS_INFO])
def test_challenges_need_a_confirmed_request(api, factory, forge, state):
    req, owner = owner_of(api, factory, state=state)
    error = refusal(owner.create_challenge, req.id)
    assert (error.code, error.details["needed"]) == ("invalid_state", ["confirmed"])


def test_another_owner_cannot_see_or_check_a_request(api, factory, forge):
    req, owner = owner_of(api, factory)
    token = owner.create_challenge(req.id)["token"]
    forge.put(raw("octocat", "hello"), token)
    _other, stranger = owner_of(api, factory)
    for call in (stranger.create_challenge, stranger.check_challenges, stranger.evidence):
        error = refusal(call, req.id)
        assert (error.status, error.code) == (404, "not_found")
    assert forge.hits == [] and Request.get_by_id(req.id).state == states.CONFIRMED


def test_staff_may_run_the_check_and_read_the_evidence(api, factory, forge):
    req, owner = owner_of(api, factory)
    token = owner.create_challenge(req.id)["token"]
    forge.put(raw("octocat", "octocat"), token)
    reviewer_user, reviewer_token = factory.user(states.REVIEWER)
    reviewer = api(reviewer_token)
    assert reviewer.check_challenges(req.id)["verified"] is True
    [evidence] = reviewer.evidence(req.id)["evidence"]
    assert evidence["actor"] == f"user:{reviewer_user.id}"
    assert refusal(reviewer.create_challenge, req.id).status == 403


def test_manual_verification_is_kept_as_evidence(api, factory, forge):
    req, _owner = owner_of(api, factory)
    user, token = factory.user(states.REVIEWER)
    reviewer = api(token)
    current = reviewer.get_request(req.id)
    reviewer.transition(req.id, "verified", current.etag, reason="known maintainer, checked mail")
    [evidence] = reviewer.evidence(req.id)["evidence"]
    assert (evidence["method"], evidence["detail"], evidence["actor"]) == (
        "manual",
        "known maintainer, checked mail",
        f"user:{user.id}",
    )


def test_a_request_withdrawn_during_the_check_is_left_untouched(api, factory, forge):
    req, owner = owner_of(api, factory)
    token = owner.create_challenge(req.id)["token"]

    def withdraw():  # the owner withdraws while the server is fetching
        owner.transition(req.id, "withdrawn", owner.get_request(req.id).etag)

    forge.put(raw("octocat", "hello"), token, on_hit=withdraw)
    error = refusal(owner.check_challenges, req.id)
    assert (error.code, error.details["state"]) == ("invalid_state", states.WITHDRAWN)
    assert Challenge.get(Challenge.token == token).verified_at is None
    assert Evidence.select().count() == 0
    assert "proof.challenge_verified" not in audit_text()


def test_a_failed_verification_writes_nothing(api, factory, forge, monkeypatch):
    from server.errors import ApiError
    from server.workflows import proofs

    def broken(*args, **kwargs):
        raise ApiError(409, "invalid_transition", "injected failure")

    monkeypatch.setattr(proofs, "system_transition", broken)
    req, owner = owner_of(api, factory)
    token = owner.create_challenge(req.id)["token"]
    forge.put(raw("octocat", "hello"), token)
    assert refusal(owner.check_challenges, req.id).code == "invalid_transition"
    assert Challenge.get(Challenge.token == token).verified_at is None
    assert Evidence.select().count() == 0
    assert "proof.challenge_verified" not in audit_text()
    assert Request.get_by_id(req.id).state == states.CONFIRMED


# -- e-mailed links ----------------------------------------------------------------------


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's naming)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.rcpt_tos, message.get_content()))
        return "250 OK"

    def link_token(self) -> str:
        return re.search(r"/proof/email\?t=(opte_[\w-]+)", self.messages[-1][1]).group(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp(app):
    """A real SMTP server on loopback that keeps what it receives."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    app.config.update(
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=controller.port,
        SMTP_STARTTLS=False,
        SMTP_FROM="optout@example.org",
        PUBLIC_URL="https://optout.example.org/",
    )
    try:
        yield inbox
    finally:
        controller.stop()


def test_emailed_link_is_single_use_evidence(api, factory, smtp):
    req, owner = owner_of(api, factory)
    sent = owner.start_email_proof(req.id, "Jane.Doe@Example.ORG")
    assert sent["email_proof"]["address"] == "J***@example.org"
    [(recipients, content)] = smtp.messages
    assert recipients == ["Jane.Doe@example.org"]
    assert "https://optout.example.org/proof/email?t=opte_" in content
    token = smtp.link_token()
    stored = EmailProof.get(EmailProof.request == req.id)
    assert token not in (stored.token_hash, stored.address)

    confirmed = api().confirm_email_proof(token)

    assert confirmed["request_id"] == req.id
    assert confirmed["evidence"]["method"] == "email"
    assert confirmed["evidence"]["detail"] == "e-mailed link confirmed at J***@example.org"
    # Evidence for the reviewers: an address the owner chose does not verify by itself.
    assert confirmed["state"] == states.CONFIRMED
    again = refusal(api().confirm_email_proof, token)
    assert (again.status, again.code) == (409, "email_proof_used")
    assert Evidence.select().count() == 1
    assert owner.evidence(req.id)["email_proofs"][0]["verified_at"] is not None
    logged = audit_text() + " ".join(e.reason or "" for e in RequestEvent.select())
    assert "jane" not in logged.lower() and token not in logged
    assert "proof.email_sent" in logged and "proof.email_confirmed" in logged


def test_emailed_links_expire(api, factory, smtp):
    req, owner = owner_of(api, factory)
    owner.start_email_proof(req.id, "owner@example.org")
    EmailProof.update(expires_at=dt.datetime(2000, 1, 1)).execute()
    error = refusal(api().confirm_email_proof, smtp.link_token())
    assert (error.status, error.code) == (410, "email_proof_expired")
    assert Evidence.select().count() == 0


def test_unknown_and_closed_links(api, factory, smtp):
    assert refusal(api().confirm_email_proof, "opte_forged").status == 404
    req, owner = owner_of(api, factory)
    owner.start_email_proof(req.id, "owner@example.org")
    owner.transition(req.id, "withdrawn", owner.get_request(req.id).etag)
    error = refusal(api().confirm_email_proof, smtp.link_token())
    assert error.code == "invalid_state"
    assert EmailProof.get().verified_at is None


@pytest.mark.parametrize(
    "address",
    ["not-an-address", "a@b", "a@b.org\r\nBcc: x@y.org", "a b@c.org", "@example.org", "a@-x.org"],
)
def test_bad_addresses_are_refused(api, factory, smtp, address):
    req, owner = owner_of(api, factory)
    error = refusal(owner.start_email_proof, req.id, address)
    assert (error.status, error.code) == (422, "invalid_address")
    assert smtp.messages == [] and EmailProof.select().count() == 0


def test_email_proofs_are_off_without_smtp(api, factory):
    req, owner = owner_of(api, factory)
    error = refusal(owner.start_email_proof, req.id, "owner@example.org")
    assert (error.status, error.code) == (409, "email_proof_disabled")
    assert EmailProof.select().count() == 0


def test_a_failed_send_writes_nothing(api, app, factory):
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=free_port(), SMTP_TIMEOUT=2)
    req, owner = owner_of(api, factory)
    error = refusal(owner.start_email_proof, req.id, "owner@example.org")
    assert (error.status, error.code) == (502, "email_send_failed")
    assert EmailProof.select().count() == 0
    assert "proof.email" not in audit_text()


def test_email_proofs_need_a_confirmed_request_and_are_bounded(api, factory, smtp):
    req, owner = owner_of(api, factory, state=states.RECEIVED)
    assert refusal(owner.start_email_proof, req.id, "a@example.org").code == "invalid_state"
    req, owner = owner_of(api, factory)
    for _ in range(5):
        owner.start_email_proof(req.id, "a@example.org")
    assert refusal(owner.start_email_proof, req.id, "a@example.org").code == (
        "too_many_email_proofs"
    )
    assert len(smtp.messages) == 5
