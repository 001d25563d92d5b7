"""POST /api/v1/intake served by the real app, with the tiny trained MobileBERT (INT8).

The model's answers and abstentions are asserted through the HTTP endpoint, exactly as a
reviewer's client sees them; and nothing proposed ever becomes a request by itself.
"""

from __future__ import annotations

import hashlib
import shutil
import sys

import pytest
import requests

from shared import states
from shared.client import ApiClientError

# Phrased as the synthetic training data is (other names): the tiny model knows that much.
REPO = "Please remove the repository tidal-api of kestrel-analytics on GitHub."
FILE = "In the repo ledger-core by anaribe on Codeberg, the file config/secrets.json has a password."
OWNER = "Please remove everything under kelnor on GitLab."
EXCEPT = "Please remove everything under kelnor on GitLab except docs."
NOTHING = "How do I opt out of the dataset?"


@pytest.fixture
def with_model(app, tiny_model):
    app.config["INTAKE_MODEL_DIR"] = str(tiny_model[1])
    return tiny_model[1]


@pytest.fixture
def reviewer(api, factory):
    return api(factory.user(states.REVIEWER)[1])


def answers(result: dict) -> dict[str, str | None]:
    return {a["field"]: a["text"] for a in result["answers"]}


def test_a_repository_request_in_prose(with_model, reviewer):
    result = reviewer.intake(REPO)
    assert result["mode"] == "parser+model" and result["model"]["available"] is True
    assert result["model"]["variant"] == "int8" and result["model"]["name"] == "tiny-test-model"
    assert answers(result) == {
        "owner": "kestrel-analytics", "name": "tidal-api", "host": "GitHub",
        "path": None, "exception": None, "extent": None,
    }
    for answer in result["answers"]:
        if answer["text"] is not None:
            assert REPO[answer["start"] : answer["end"]] == answer["text"]
            assert answer["confidence"] > 0.5 and not answer["abstained"]
        else:
            assert answer["abstained"] and answer["confidence"] <= 0.5
    [proposal] = result["proposals"]
    assert proposal["complete"] and proposal["kind"] == "repository"
    assert proposal["request"] == {"kind": "repository", "host": "github.com",
                                   "owner": "kestrel-analytics", "name": "tidal-api"}
    assert proposal["describe"] == "the repository github.com/kestrel-analytics/tidal-api"
    assert proposal["fields"]["host"]["text"] == "GitHub"
    assert proposal["fields"]["host"]["source"] == "model"
    assert result["submitted"] is False and "Nothing has been submitted" in result["next"]


def test_a_file_request_in_prose(with_model, reviewer):
    result = reviewer.intake(FILE)
    assert answers(result) == {
        "owner": "anaribe", "name": "ledger-core", "host": "Codeberg",
        "path": "config/secrets.json", "exception": None, "extent": None,
    }
    assert result["proposals"][0]["request"] == {
        "kind": "file", "host": "codeberg.org", "owner": "anaribe", "name": "ledger-core",
        "path": "config/secrets.json"}


def test_a_whole_account_only_when_the_message_says_everything(with_model, reviewer):
    result = reviewer.intake(OWNER)
    got = answers(result)
    assert (got["owner"], got["host"], got["extent"], got["name"]) == (
        "kelnor", "GitLab", "everything", None)
    assert result["proposals"][0]["request"] == {
        "kind": "owner", "host": "gitlab.com", "owner": "kelnor"}


def test_an_exception_is_found_and_blocks_the_proposal(with_model, reviewer):
    result = reviewer.intake(EXCEPT)
    assert answers(result)["exception"] == "docs"
    assert answers(result)["extent"] == "everything"
    assert result["proposals"], "the account is proposed, blocked"
    for proposal in result["proposals"]:
        assert not proposal["complete"] and proposal["request"] is None
        assert proposal["exceptions"][0]["text"] == "docs"


def test_a_message_that_asks_nothing_gets_abstentions(with_model, reviewer):
    result = reviewer.intake(NOTHING)
    assert result["mode"] == "parser+model"
    assert all(a["abstained"] for a in result["answers"]), result["answers"]
    assert len(result["answers"]) == 6 and result["proposals"] == []


def test_fp32_and_int8_agree(app, with_model, reviewer):
    int8 = [answers(reviewer.intake(m)) for m in (REPO, FILE, NOTHING)]
    app.config["INTAKE_MODEL_VARIANT"] = "fp32"
    result = reviewer.intake(REPO)
    assert result["model"]["variant"] == "fp32"
    assert [answers(reviewer.intake(m)) for m in (REPO, FILE, NOTHING)] == int8


def test_a_higher_threshold_makes_the_model_abstain(app, with_model, reviewer):
    app.config["INTAKE_NULL_THRESHOLD"] = 1000.0
    result = reviewer.intake(REPO)
    assert all(a["abstained"] for a in result["answers"])
    assert result["proposals"] == []


def test_without_a_model_the_parser_works_alone_and_says_so(reviewer):
    result = reviewer.intake("Please remove https://github.com/jluna/thesis-code, thanks")
    assert result["mode"] == "parser" and result["model"]["available"] is False
    assert result["model"]["code"] == "model_not_configured"
    assert result["answers"] == []
    assert result["proposals"][0]["request"] == {
        "kind": "repository", "host": "github.com", "owner": "jluna", "name": "thesis-code"}
    assert reviewer.intake(REPO)["proposals"] == []  # prose needs the model: no guess
    # Spans are offsets into the message as sent, blanks before it included.
    sent = "\n  Please remove https://github.com/jluna/thesis-code, thanks  \n"
    for field in reviewer.intake(sent)["proposals"][0]["fields"].values():
        assert sent[field["start"]:field["end"]] == field["text"]


def test_without_onnxruntime_the_parser_works_alone_and_says_so(monkeypatch, with_model,
                                                                reviewer):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if it were not installed
    result = reviewer.intake("remove https://github.com/jluna/thesis-code")
    assert result["mode"] == "parser"
    assert result["model"]["code"] == "onnxruntime_not_installed"
    assert "pip install 'optout[intake]'" in result["model"]["message"]
    assert result["proposals"][0]["complete"]


def test_a_tampered_model_is_refused_and_the_parser_works_alone(app, tiny_model, tmp_path,
                                                                reviewer):
    broken = tmp_path / "model"
    shutil.copytree(tiny_model[1], broken)
    with (broken / "model.int8.onnx").open("ab") as fh:
        fh.write(b"\0")
    app.config["INTAKE_MODEL_DIR"] = str(broken)
    result = reviewer.intake(REPO)
    assert result["mode"] == "parser"
    assert result["model"]["code"] == "model_checksum_mismatch"
    app.config["INTAKE_MODEL_DIR"] = str(tmp_path / "nowhere")
    assert reviewer.intake(REPO)["model"]["code"] == "model_not_found"


def test_the_model_directory_comes_from_the_environment(monkeypatch, tiny_model, instance,
                                                        database_url):
    from server import create_app

    monkeypatch.setenv("OPTOUT_INTAKE_MODEL_DIR", str(tiny_model[1]))
    monkeypatch.setenv("OPTOUT_INTAKE_MODEL_VARIANT", "fp32")
    monkeypatch.setenv("OPTOUT_INTAKE_NULL_THRESHOLD", "1.5")
    application = create_app({"TESTING": True, "DATABASE_URL": database_url})
    assert application.config["INTAKE_MODEL_DIR"] == str(tiny_model[1])
    assert application.config["INTAKE_NULL_THRESHOLD"] == 1.5


def test_nothing_proposed_is_submitted_without_a_person(with_model, reviewer, api):
    from server.models import AuditQueue, LogEntry, Request, RequestEvent

    def counts():
        return [m.select().count() for m in (Request, RequestEvent, LogEntry, AuditQueue)]

    before = counts()
    proposals = []
    for message in (REPO, FILE, OWNER, "remove https://github.com/a-b/c and x-y/z on GitHub"):
        proposals += reviewer.intake(message)["proposals"]
    assert counts() == before  # no request, no history, no audit entry
    assert len(proposals) >= 4
    # The confirmation step: a person submits a proposal through the normal endpoint, and
    # the request starts as 'received', waiting for the owner to confirm its scope.
    receipt = api().submit(**proposals[0]["request"])
    assert receipt["request"]["state"] == states.RECEIVED
    assert Request.select().count() == before[0] + 1


def test_intake_needs_a_reviewer_role(with_model, api, factory):
    with pytest.raises(ApiClientError) as caught:
        api().intake(REPO)
    assert (caught.value.status, caught.value.code) == (401, "unauthorized")
    _, owner_token = factory.request("repository", states.RECEIVED)
    with pytest.raises(ApiClientError) as caught:
        api(owner_token).intake(REPO)
    assert (caught.value.status, caught.value.code) == (403, "forbidden")
    for role in (states.PUBLISHER, states.ADMIN):
        assert api(factory.user(role)[1]).intake(REPO)["proposals"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"text": ""}, 422, "validation_error"),
        ({"text": "   \n "}, 422, "empty_text"),
        ({"text": "x" * 20_001}, 422, "validation_error"),
        ({"text": "hi", "extra": 1}, 422, "validation_error"),
        ({"text": 5}, 422, "validation_error"),
        ({"text": "acme/widgets", "default_host": "not a host"}, 422, "invalid_host"),
        ({"text": "acme/widgets", "default_host": "127.0.0.1"}, 422, "invalid_host"),
        ({"text": "bad \u0000 byte"}, 422, "nul_character"),
    ],
)
def test_bad_input_gets_a_clear_error(live_server, factory, body, status, code):
    token = factory.user(states.REVIEWER)[1]
    resp = requests.post(f"{live_server}/api/v1/intake", json=body, timeout=30,
                         headers={"Authorization": f"Bearer {token}"})
    assert (resp.status_code, resp.json()["error"]["code"]) == (status, code), resp.text


def test_a_body_that_is_not_json_is_refused(live_server, factory):
    token = factory.user(states.REVIEWER)[1]
    resp = requests.post(f"{live_server}/api/v1/intake", data="text=hi", timeout=10,
                         headers={"Authorization": f"Bearer {token}",
                                  "Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status_code == 415


def test_a_default_host_completes_bare_forms(reviewer):
    result = reviewer.intake("please remove acme/widgets", default_host="GitLab.com")
    assert result["proposals"][0]["request"]["host"] == "gitlab.com"
    assert result["proposals"][0]["fields"]["host"]["source"] == "default"


# -- the mail gateway ---------------------------------------------------------------------

GATEWAY_TOKEN = "optg_test-gateway-secret"
EMAIL = (
    "From: Ana <ana@example.org>\r\nTo: optout@example.org\r\nSubject: opt-out request\r\n"
    "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=XX\r\n\r\n"
    "--XX\r\nContent-Type: text/html\r\n\r\n<p>see text</p>\r\n"
    "--XX\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: "
    "quoted-printable\r\n\r\nPlease remove the repository tidal-api of kestrel-analytics =\r\n"
    "on GitHub.\r\n--XX--\r\n"
)


def gateway(live_server, body, token=GATEWAY_TOKEN):
    headers = {"X-Optout-Gateway-Token": token} if token else {}
    return requests.post(f"{live_server}/api/v1/intake/mail", json=body, headers=headers,
                         timeout=30)


def test_the_gateway_is_off_until_configured(live_server):
    resp = gateway(live_server, {"text": REPO})
    assert (resp.status_code, resp.json()["error"]["code"]) == (404, "intake_gateway_disabled")


def test_the_gateway_reads_a_raw_email_with_its_token(app, with_model, live_server):
    from server.models import AuditQueue, LogEntry, Request

    before = [m.select().count() for m in (Request, LogEntry, AuditQueue)]
    app.config["INTAKE_GATEWAY_TOKEN_SHA256"] = hashlib.sha256(GATEWAY_TOKEN.encode()).hexdigest()
    resp = gateway(live_server, {"email": EMAIL})
    assert resp.status_code == 200, resp.text
    result = resp.json()
    assert result["proposals"][0]["request"] == {
        "kind": "repository", "host": "github.com", "owner": "kestrel-analytics",
        "name": "tidal-api"}
    assert gateway(live_server, {"text": OWNER}).json()["proposals"][0]["kind"] == "owner"
    for token in (None, "optg_wrong", GATEWAY_TOKEN + "x"):
        resp = gateway(live_server, {"text": REPO}, token)
        assert (resp.status_code, resp.json()["error"]["code"]) == (
            401, "invalid_gateway_token")
    assert gateway(live_server, {"text": REPO, "email": EMAIL}).status_code == 422
    assert gateway(live_server, {}).status_code == 422
    html_only = "Subject: x\r\nContent-Type: text/html\r\n\r\n<p>hi</p>\r\n"
    resp = gateway(live_server, {"email": html_only})
    assert resp.json()["error"]["code"] == "email_without_text"
    assert [m.select().count() for m in (Request, LogEntry, AuditQueue)] == before
