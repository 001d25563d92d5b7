"""PII review on the server: ingestion, encryption at rest, masked reading, audited reveal,
decisions by fingerprint, export into the redactor, the link from file requests, bad input."""

from __future__ import annotations

import json

import pytest

from server.db import db
from server.models import PiiDecision, PiiFinding, PiiLocation
from shared import states
from shared.pii import Scanner, load_decisions, redact_file
from tests.audit_log import audit_count, audit_records

KEY = b"test fingerprint key"
EMAIL, IP, OTHER = "mariana.kowalczyk@posteo.de", "151.101.1.69", "rafael.oyelaran@fastmail.com"
TEXT = f'import os\n\ncontact = "{EMAIL}"\nhost = "{IP}"\nother = "{OTHER}"\n\nprint(contact)\n'
RAW = (EMAIL, IP, OTHER)


def findings_payload(text=TEXT, host="github.com", owner="Octo", name="Hello", path="src/app.py"):
    """Scan ``text`` as a pipeline would and attach two lines of context to each finding."""
    items = []
    for finding in Scanner(key=KEY, sensitivity=3).scan_text(text, path):
        first = max(finding.line - 3, 0)
        lines = text.splitlines(keepends=True)
        offset = sum(len(line) for line in lines[:first])
        snippet = "".join(lines[first : finding.line + 2])
        context = {"text": snippet, "value_start": finding.start - offset}
        items.append({**finding.to_json(), "host": host, "owner": owner, "name": name,
                      "context": context})  # fmt: skip
    return items


@pytest.fixture
def http(app, factory):
    """A test client per role: ``http(role).post(url, json=...)``."""
    tokens = {}

    def make(role):
        if role not in tokens:
            tokens[role] = factory.user(role)[1]
        return _Client(app.test_client(), tokens[role])

    return make


class _Client:
    def __init__(self, client, token):
        self.client, self.headers = client, {"Authorization": f"Bearer {token}"}

    def get(self, url, **kwargs):
        return self.client.get(url, headers=self.headers, **kwargs)

    def post(self, url, **kwargs):
        return self.client.post(url, headers=self.headers, **kwargs)


def ingest(http, items, role=states.PUBLISHER):
    resp = http(role).post("/api/v1/pii/findings", json={"findings": items})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def all_stored_text() -> list:
    """Every value of every column of every table, as text or bytes."""
    cells = []
    for table in db.get_tables():
        for row in db.execute_sql(f'SELECT * FROM "{table}"').fetchall():
            cells.extend(c for c in row if isinstance(c, str | bytes | memoryview))
    return cells


def assert_nowhere_in_database(values):
    for cell in all_stored_text():
        data = bytes(cell) if not isinstance(cell, str) else cell.encode("utf-8")
        for value in values:
            assert value.encode("utf-8") not in data, f"{value!r} stored in clear"


def error_code(resp):
    return resp.get_json()["error"]["code"]


# --- ingestion and storage ----------------------------------------------------------------


def test_ingestion_is_idempotent_per_file_content(http, instance):
    items = findings_payload()
    first = ingest(http, items)
    assert (first["created"], first["linked"], first["unchanged"]) == (3, 0, 0)
    again = ingest(http, items, role=states.ADMIN)
    assert (again["created"], again["linked"], again["unchanged"]) == (0, 0, 3)
    assert [r["id"] for r in again["results"]] == [r["id"] for r in first["results"]]
    # The same file under another case of the owner's name is the same location.
    ingest(http, findings_payload(owner="OCTO", name="hello"))
    # A copy in another repository: the same findings, one more location each.
    copy = ingest(http, findings_payload(owner="fork", name="hello"))
    assert copy["linked"] == 3 and [r["id"] for r in copy["results"]] == [
        r["id"] for r in first["results"]
    ]
    assert PiiFinding.select().count() == 3 and PiiLocation.select().count() == 6
    assert (instance / "pii.key").stat().st_mode & 0o777 == 0o600


def test_context_and_values_are_encrypted_at_rest(http):
    ingest(http, findings_payload())
    assert PiiFinding.select().count() == 3
    assert_nowhere_in_database(RAW)


def test_listing_and_reading_show_masked_values_only(http):
    ingest(http, findings_payload())
    reviewer = http(states.REVIEWER)
    listed = reviewer.get("/api/v1/pii/findings?host=github.com&owner=octo&name=HELLO")
    body = listed.get_json()
    assert listed.status_code == 200 and body["total"] == 3
    assert {i["masked"] for i in body["items"]} == {"m***@posteo.de", "151.101.*.*",
                                                     "r***@fastmail.com"}  # fmt: skip
    assert body["items"][0]["locations"] == [
        {"host": "github.com", "owner": "Octo", "name": "Hello", "path": "src/app.py"}
    ]
    assert body["items"][0]["decision"] is None
    assert not any(value in listed.get_data(as_text=True) for value in RAW)
    assert reviewer.get("/api/v1/pii/findings?kind=ip_address").get_json()["total"] == 1
    assert reviewer.get("/api/v1/pii/findings?owner=nobody").get_json()["total"] == 0
    email_id = body["items"][0]["id"]
    detail = reviewer.get(f"/api/v1/pii/findings/{email_id}")
    context = detail.get_json()["context"]
    assert not any(value in detail.get_data(as_text=True) for value in RAW)
    # Every known value in the snippet is masked, not only the finding's own.
    assert 'contact = "m***@posteo.de"\nhost = "151.101.*.*"' in context["text"]
    assert context["text"][context["value_start"] : context["value_end"]] == "m***@posteo.de"
    assert reviewer.get("/api/v1/pii/findings/999999").status_code == 404
    assert reviewer.get(f"/api/v1/pii/findings/{2**70}").status_code == 404


# --- reveal -------------------------------------------------------------------------------


def test_reveal_needs_a_reason_and_is_audited_without_the_value(http):
    ids = [r["id"] for r in ingest(http, findings_payload())["results"]]
    reviewer = http(states.REVIEWER)
    before = audit_count()
    for body in ({}, {"reason": ""}, {"reason": "   "}, {"reason": 3}):
        resp = reviewer.post(f"/api/v1/pii/findings/{ids[0]}/reveal", json=body)
        assert resp.status_code == 422, body
    assert audit_count() == before
    resp = reviewer.post(f"/api/v1/pii/findings/{ids[0]}/reveal", json={"reason": "owner #4"})
    assert resp.status_code == 200
    revealed = resp.get_json()
    assert revealed["value"] == EMAIL
    assert revealed["context"][revealed["value_start"] : revealed["value_end"]] == EMAIL
    (entry,) = audit_records()[before:]
    assert (entry.action, entry.subject, entry.reason) == (
        "pii.revealed", f"pii_finding:{ids[0]}", "owner #4"
    )  # fmt: skip
    assert not any(value.encode() in entry.raw for value in RAW)
    assert not any(value in json.dumps(entry.details) for value in RAW)
    owner_denied = http(states.PUBLISHER).client.post(
        f"/api/v1/pii/findings/{ids[0]}/reveal", json={"reason": "x"}
    )
    assert owner_denied.status_code == 401
    assert (
        reviewer.post("/api/v1/pii/findings/999999/reveal", json={"reason": "x"}).status_code == 404
    )


# --- decisions ----------------------------------------------------------------------------


def decide(http, *items, role=states.REVIEWER):
    resp = http(role).post("/api/v1/pii/decisions", json={"decisions": list(items)})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_decisions_hold_for_every_copy_and_later_ingestions(http):
    items = findings_payload()
    ingest(http, items)
    email = items[0]
    before = audit_count()
    result = decide(
        http,
        {"fingerprint": email["fingerprint"], "rule": "email", "decision": "false_positive",
         "reason": "a project's public contact"},
    )  # fmt: skip
    assert result["changed"] == 1 and result["results"][0]["previous"] is None
    again = decide(http, {"fingerprint": email["fingerprint"], "rule": "email",
                          "decision": "false_positive"})  # fmt: skip
    assert again["changed"] == 0 and again["results"][0]["status"] == "unchanged"
    (entry,) = [r for r in audit_records()[before:] if r.action == "pii.decided"]
    assert entry.action == "pii.decided" and entry.reason == "a project's public contact"
    assert entry.details["decision"] == "false_positive" and entry.details["previous"] is None
    assert EMAIL.encode() not in entry.raw
    # The same value in another file of another repository: decided already.
    other_text = f'# maintainer: {EMAIL}\nVERSION = "1.0"\n'
    ingest(http, findings_payload(other_text, owner="someone", name="else", path="README"))
    reviewer = http(states.REVIEWER)
    listed = reviewer.get("/api/v1/pii/findings?owner=someone&name=else").get_json()
    assert listed["total"] == 1
    assert listed["items"][0]["decision"]["decision"] == "false_positive"
    assert reviewer.get("/api/v1/pii/findings?decision=false_positive").get_json()["total"] == 2
    assert reviewer.get("/api/v1/pii/findings?decision=none").get_json()["total"] == 2
    # A change of mind is a new event; the history keeps both.
    decide(http, {"fingerprint": email["fingerprint"], "rule": "email", "decision": "confirmed"})
    detail = reviewer.get(f"/api/v1/pii/findings/{listed['items'][0]['id']}").get_json()
    assert [h["to_decision"] for h in detail["history"]] == ["confirmed", "false_positive"]
    assert PiiDecision.select().count() == 1


def test_export_round_trips_into_redaction(app, http, tmp_path):
    from server.cli_pii_review import decisions

    items = findings_payload()
    ingest(http, items)
    by_value = {EMAIL: items[0], OTHER: items[2]}
    decide(
        http,
        {"fingerprint": by_value[EMAIL]["fingerprint"], "rule": "email",
         "decision": "false_positive"},
        {"fingerprint": by_value[OTHER]["fingerprint"], "rule": "email", "decision": "confirmed"},
    )  # fmt: skip
    out = tmp_path / "decisions.jsonl"
    result = app.test_cli_runner().invoke(decisions, ["export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert all(set(line) == {"fingerprint", "rule", "decision"} for line in lines)
    skipped = load_decisions(out)
    assert skipped == {(by_value[EMAIL]["fingerprint"], "email")}
    source, target = tmp_path / "app.py", tmp_path / "out.py"
    source.write_text(TEXT)
    redact_file(source, target, Scanner(key=KEY, sensitivity=3), false_positives=skipped)
    redacted = target.read_text()
    assert EMAIL in redacted and OTHER not in redacted and "<EMAIL>" in redacted
    assert IP not in redacted


def test_decisions_refuse_unknown_findings_and_bad_items(http):
    items = findings_payload()
    ingest(http, items)
    reviewer = http(states.REVIEWER)
    good = {"fingerprint": items[0]["fingerprint"], "rule": "email", "decision": "confirmed"}
    before = audit_count()
    for batch, code in [
        ([good, {**good, "fingerprint": "f" * 64}], "unknown_finding"),
        ([{**good, "decision": "maybe"}], "validation_error"),
        ([{**good, "extra": 1}], "validation_error"),
        ([{**good, "fingerprint": "XYZ"}], "validation_error"),
        ([{**good, "reason": "r" * 2001}], "validation_error"),
        ([], "validation_error"),
    ]:
        resp = reviewer.post("/api/v1/pii/decisions", json={"decisions": batch})
        assert resp.status_code == 422 and error_code(resp) == code, resp.get_json()
    assert PiiDecision.select().count() == 0 and audit_count() == before


# --- owners' file requests ----------------------------------------------------------------


def test_file_requests_link_to_the_findings_of_their_file(http, factory):
    req, _ = factory.request("file")  # gitlab.com group/sub/proj, src/secrets.py
    ingest(http, findings_payload(host="gitlab.com", owner="Group/Sub", name="proj",
                                  path="src/secrets.py"))  # fmt: skip
    ingest(http, findings_payload(host="gitlab.com", owner="group/sub", name="proj",
                                  path="src/other.py"))  # fmt: skip
    resp = http(states.REVIEWER).get(f"/api/v1/requests/{req.id}/pii-findings")
    body = resp.get_json()
    assert resp.status_code == 200 and body["path"] == "src/secrets.py"
    assert [i["kind"] for i in body["items"]] == ["email", "ip_address", "email"]
    assert not any(value in resp.get_data(as_text=True) for value in RAW)
    repo_request, _ = factory.request("repository")
    resp = http(states.REVIEWER).get(f"/api/v1/requests/{repo_request.id}/pii-findings")
    assert resp.status_code == 422 and error_code(resp) == "not_a_file_request"


# --- bad input ----------------------------------------------------------------------------


def _refused(http, findings, status=422, code=None):
    resp = http(states.PUBLISHER).post("/api/v1/pii/findings", json={"findings": findings})
    assert resp.status_code == status, resp.get_json()
    if code:
        assert error_code(resp) == code, resp.get_json()
    assert PiiFinding.select().count() == 0 and PiiLocation.select().count() == 0
    return resp


def test_bad_findings_are_refused_with_nothing_stored(app, http):
    good = findings_payload()[0]
    context = good["context"]
    _refused(http, [good, {**good, "surprise": True}], code="validation_error")
    _refused(http, [{**good, "context": {**context, "extra": 1}}], code="validation_error")
    _refused(http, [{**good, "start": "11"}], code="validation_error")
    _refused(http, [{**good, "tier": 7}], code="validation_error")
    _refused(http, [{**good, "kind": "ssn"}], code="validation_error")
    _refused(http, [{key: v for key, v in good.items() if key != "context"}],
             code="validation_error")  # fmt: skip
    _refused(http, [{**good, "content_sha256": "abc"}], code="validation_error")
    _refused(http, [{**good, "end": good["start"]}], code="invalid_span")
    _refused(http, [{**good, "context": {**context, "value_start": 500}}], code="context_mismatch")
    _refused(http, [{**good, "masked": f"see {EMAIL}"}], code="masked_reveals_value")
    _refused(http, [good, {**good, "host": "bad host!"}], code="invalid_host")
    _refused(http, [], code="validation_error")
    resp = _refused(http, [good, {**good, "owner": ""}])
    assert "findings" in json.dumps(resp.get_json())
    app.config["PII_FINGERPRINT_KEY"] = "another key"
    _refused(http, [good], code="fingerprint_mismatch")
    app.config["PII_FINGERPRINT_KEY"] = KEY.decode()
    assert ingest(http, [good])["created"] == 1


def test_oversize_bodies_are_refused(app, http):
    app.config["PII_FINDINGS_MAX_CONTENT_LENGTH"] = 2000
    _refused(http, findings_payload() * 3, status=413, code="payload_too_large")
    big = {**findings_payload()[0]}
    big["context"] = {"text": "x" * 9000, "value_start": 0}
    app.config["PII_FINDINGS_MAX_CONTENT_LENGTH"] = 1 << 20
    _refused(http, [big], code="validation_error")


def test_cli_ingest_reads_json_lines(app, tmp_path):
    from server.cli_pii_review import ingest as ingest_command

    path = tmp_path / "findings.jsonl"
    path.write_text("".join(json.dumps(item) + "\n" for item in findings_payload()))
    runner = app.test_cli_runner()
    result = runner.invoke(ingest_command, [str(path)])
    assert result.exit_code == 0, result.output
    assert "3 created" in result.output
    assert runner.invoke(ingest_command, [str(path)]).output.startswith("0 created")
    path.write_text('{"host": "github.com"}\n')
    result = runner.invoke(ingest_command, [str(path)])
    assert result.exit_code == 2 and "line 1" in result.output
    assert PiiFinding.select().count() == 3


def test_a_wrong_context_key_is_a_clear_error_not_a_500(app):
    from server.pii_context import ContextKeyError, decrypt_context, encrypt_context

    sealed = encrypt_context("password = 'hunter2'", "finding:1")
    app.config["PII_CONTEXT_KEY"] = "A" * 43 + "="
    with pytest.raises(ContextKeyError) as caught:
        decrypt_context(sealed, "finding:1")
    assert (caught.value.status, caught.value.code) == (503, "pii_context_unavailable")


def test_paging_by_cursor_never_skips_findings_that_others_decide(http):
    lines = [f'user{n} = "person.{n}@example-mail.org"\n' for n in range(9)]
    items = findings_payload("".join(lines))
    ingest(http, items)
    reviewer = http(states.REVIEWER)
    first = reviewer.get("/api/v1/pii/findings?decision=none&per_page=3").get_json()
    assert first["total"] == 9 and first["next_cursor"]
    seen = [item["fingerprint"] for item in first["items"]]
    # Another reviewer decides the three findings just shown: they leave "undecided".
    decide(http, *({"fingerprint": f, "rule": "email", "decision": "confirmed"} for f in seen))
    by_offset = reviewer.get("/api/v1/pii/findings?decision=none&per_page=3&page=2").get_json()
    after = first["next_cursor"]
    by_cursor = reviewer.get(f"/api/v1/pii/findings?decision=none&per_page=3&after={after}")
    body = by_cursor.get_json()
    everything = [i["id"] for i in reviewer.get("/api/v1/pii/findings?per_page=200")
                  .get_json()["items"]]  # fmt: skip
    assert [i["id"] for i in body["items"]] == everything[3:6]
    assert [i["id"] for i in by_offset["items"]] == everything[6:9]  # the offset skipped 3
    rest = reviewer.get(f"/api/v1/pii/findings?decision=none&per_page=3"
                        f"&after={body['next_cursor']}").get_json()  # fmt: skip
    assert [i["id"] for i in rest["items"]] == everything[6:9] and rest["next_cursor"] is None
    for bad in ("nonsense", first["next_cursor"] + "&page=2"):
        resp = reviewer.get(f"/api/v1/pii/findings?after={bad}")
        assert (resp.status_code, error_code(resp)) == (422, "invalid_cursor")
