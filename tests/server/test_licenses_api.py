"""License verdicts over HTTP: ingestion (idempotent, strict, re-judged), overrides with
ETags, history, owners' disputes, audit entries, listing, and bad input."""

from __future__ import annotations

import copy
import json

import pytest

from server.models import LicensedRepository, LicenseVerdict, Request
from shared import states
from shared.licenses import Policy, scan_repository
from tests.audit_log import audit_count, audit_records

RECORD = "/api/v1/licenses/github.com/octocat/hello"
DETECTOR = {"name": "askalono", "version": "0.2.0+rules.1"}


def scan(declared="MIT", evidence=None, **extra) -> dict:
    """A scan as ``ScanResult.to_json()`` prints it (the client's verdict is a claim only)."""
    if evidence is None:
        evidence = (
            []
            if declared is None
            else [
                {
                    "path": "LICENSE",
                    "expression": declared,
                    "score": 0.98,
                    "detector": "askalono",
                    "kind": "license_file",
                }
            ]
        )
    data = {
        "declared": declared,
        "verdict": "permissive",
        "admitted": True,
        "policy": {"name": "optout-default", "version": "1"},
        "detector": dict(DETECTOR),
        "evidence": evidence,
        "scopes": [
            {
                "path": "",
                "expression": declared,
                "verdict": "permissive",
                "vendored": False,
                "evidence": ["LICENSE"],
                "other_evidence": 0,
            }
        ],
        "files_scanned": 12,
        "truncated": False,
        "skipped": {},
    }
    data.update(extra)
    return data


def item(declared="MIT", host="github.com", owner="octocat", name="hello", **kwargs) -> dict:
    return {"host": host, "owner": owner, "name": name, "scan": scan(declared, **kwargs)}


class Caller:
    """The app's test client with a bearer token."""

    def __init__(self, client, token):
        self.client, self.token = client, token

    def __call__(self, method, path, body=None, etag=None, **kwargs):
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        if etag is not None:
            headers["If-Match"] = f'"{etag}"'
        if body is not None:
            kwargs["json"] = body
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def ingest(self, *items, status=200):
        resp = self("POST", "/api/v1/licenses/scans", {"scans": list(items)})
        assert resp.status_code == status, resp.get_json()
        return resp.get_json()

    def record(self, path=RECORD):
        resp = self("GET", path)
        assert resp.status_code == 200, resp.get_json()
        assert resp.headers["ETag"] == f'"{resp.get_json()["etag"]}"'
        return resp.get_json()

    def override(self, body, etag, path=RECORD):
        return self("POST", path + "/override", body, etag=etag)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def publisher(client, factory):
    return Caller(client, factory.user(states.PUBLISHER)[1])


@pytest.fixture
def reviewer(client, factory):
    user, token = factory.user(states.REVIEWER)
    caller = Caller(client, token)
    caller.user = user
    return caller


def counts():
    return LicensedRepository.select().count(), LicenseVerdict.select().count(), audit_count()


def error(resp, status, code):
    assert resp.status_code == status, resp.get_data(as_text=True)
    body = resp.get_json()["error"]
    assert body["code"] == code, body
    return body


# --- ingestion ----------------------------------------------------------------------------


def test_a_real_scan_is_ingested_and_read(publisher, reviewer, tmp_path):
    (tmp_path / "package.json").write_text('{"name": "x", "license": "Apache-2.0"}')
    (tmp_path / "vendor" / "lib").mkdir(parents=True)
    (tmp_path / "vendor" / "lib" / "package.json").write_text('{"license": "GPL-3.0-only"}')
    result = scan_repository(tmp_path).to_json()
    report = publisher.ingest(
        {"host": "github.com", "owner": "octocat", "name": "hello", "scan": result}
    )
    assert (report["created"], report["unchanged"]) == (1, 0)
    got = report["results"][0]
    assert got["status"] == "created" and got["verdict"]["verdict"] == "permissive"
    record = reviewer.record()
    current = record["current"]
    assert current["expression"] == "Apache-2.0"
    assert (current["verdict"], current["admitted"], current["source"]) == (
        "permissive",
        True,
        "scan",
    )
    assert current["policy"] == {"name": "optout-default", "version": "1"}
    assert current["detector"]["name"] == result["detector"]["name"]
    assert {e["path"] for e in current["evidence"]} == {"package.json", "vendor/lib/package.json"}
    vendored = [s for s in current["scopes"] if s["path"] == "vendor/lib"]
    assert vendored and vendored[0]["verdict"] == "non_permissive"
    assert record["etag"] == got["etag"]
    assert [h["id"] for h in record["history"]] == [current["id"]]
    assert record["disputes"] == []


def test_ingesting_the_same_scan_again_changes_nothing(publisher):
    batch = [item("MIT"), item("Apache-2.0", name="other")]
    first = publisher.ingest(*batch)
    assert first["created"] == 2
    before = counts()
    again = publisher.ingest(*batch)
    assert (again["created"], again["unchanged"]) == (0, 2)
    assert [r["verdict"]["id"] for r in again["results"]] == [
        r["verdict"]["id"] for r in first["results"]
    ]
    # Forges ignore case, and so does the repository key; key order and float spelling
    # in the scan do not matter either.
    reordered = item("MIT", host="GitHub.com", owner="OctoCat", name="HELLO")
    reordered["scan"] = dict(reversed(list(reordered["scan"].items())))
    reordered["scan"]["evidence"][0]["score"] = 0.980000
    assert publisher.ingest(reordered)["results"][0]["status"] == "unchanged"
    assert counts() == before


def test_a_changed_scan_adds_to_the_history_with_one_audit_entry(publisher, reviewer):
    publisher.ingest(item("MIT"))
    before = audit_count()
    publisher.ingest(item("GPL-3.0-only"))
    assert audit_count() == before + 1
    record = reviewer.record()
    assert [h["expression"] for h in record["history"]] == ["GPL-3.0-only", "MIT"]
    assert record["current"]["verdict"] == "non_permissive"
    assert record["current"]["admitted"] is False
    repo = LicensedRepository.get()
    assert repo.verdict == "non_permissive"
    entries = [r for r in audit_records() if r.action == "license.verdict_set"]
    assert len(entries) == 2
    last = entries[-1]
    assert last.subject == f"licensed_repository:{repo.id}"
    assert last.actor.startswith("user:")
    assert last.details["verdict_id"] == record["current"]["id"]
    assert last.details["verdict"] == "non_permissive"
    assert last.details["expression"] == "GPL-3.0-only"
    assert last.details["policy"] == {"name": "optout-default", "version": "1"}
    assert last.details["scan_sha256"] == record["current"]["fingerprint"]
    for entry in entries:  # references only: the repository's names never enter the log
        assert b"octocat" not in entry.raw.lower() and b"hello" not in entry.raw


def test_expressions_are_validated_strictly(publisher, reviewer):
    evidence = [
        {
            "path": "LICENSE",
            "expression": "GPL-2.0+",
            "score": 0.9,
            "detector": "askalono",
            "kind": "license_file",
        },
        {
            "path": "COPYING",
            "expression": "Frobnicate-1.0",
            "score": 0.5,
            "detector": "notice-rules",
            "kind": "notice_file",
        },
    ]
    report = publisher.ingest(item("MIT OR Frobnicate-1.0", evidence=evidence))
    result = report["results"][0]
    assert result["verdict"]["expression"] == "MIT OR LicenseRef-Frobnicate-1.0"
    assert result["unknown"] == ["Frobnicate-1.0"]
    current = reviewer.record()["current"]
    assert current["unknown"] == ["Frobnicate-1.0"]
    assert [e["expression"] for e in current["evidence"]] == [
        "GPL-2.0-or-later",
        "LicenseRef-Frobnicate-1.0",
    ]
    assert current["evidence"][1]["unknown"] == ["Frobnicate-1.0"]
    assert current["scopes"][0]["expression"] == "MIT OR LicenseRef-Frobnicate-1.0"


@pytest.mark.parametrize(
    ("declared", "verdict", "admitted"),
    [
        ("GPL-3.0-only", "non_permissive", False),
        ("GPL-2.0-only WITH Classpath-exception-2.0", "non_permissive", False),
        ("Apache-2.0 WITH LLVM-exception", "permissive", True),
        ("GPL-3.0-only OR MIT", "permissive", True),
        ("MIT AND GPL-3.0-only", "non_permissive", False),
        ("LicenseRef-Custom", "unknown", False),
        (None, "no_license", True),
    ],
)
def test_the_server_judges_not_the_client(publisher, declared, verdict, admitted):
    sent = item(declared)
    sent["scan"]["verdict"], sent["scan"]["admitted"] = "permissive", True
    got = publisher.ingest(sent)["results"][0]["verdict"]
    assert (got["verdict"], got["admitted"]) == (verdict, admitted)
    assert got["policy"] == {"name": "optout-default", "version": "1"}


def test_a_new_policy_judges_the_same_scan_again(app, publisher, reviewer):
    publisher.ingest(item("MIT"))
    app.config["LICENSE_POLICY"] = Policy(name="no-mit", version="2", deny=("MIT",))
    report = publisher.ingest(item("MIT"))
    assert report["created"] == 1
    current = reviewer.record()["current"]
    assert current["policy"] == {"name": "no-mit", "version": "2"}
    assert current["verdict"] == "non_permissive"
    assert publisher.ingest(item("MIT"))["unchanged"] == 1


def test_free_text_license_ids_are_redacted_in_the_log(publisher, reviewer):
    publisher.ingest(item("Copyright (c) Jane Roe, all rights reserved"))
    current = reviewer.record()["current"]
    assert current["expression"].startswith("LicenseRef-Copyright")
    entry = [r for r in audit_records() if r.action == "license.verdict_set"][-1]
    assert entry.details["expression"] == "LicenseRef-redacted"
    assert b"Roe" not in entry.raw and b"Jane" not in entry.raw
    publisher.ingest(item("MIT OR LicenseRef-scancode-public-domain", name="pd"))
    entry = [r for r in audit_records() if r.action == "license.verdict_set"][-1]
    assert entry.details["expression"] == "MIT OR LicenseRef-scancode-public-domain"


def test_a_batch_with_one_bad_item_stores_nothing(publisher):
    before = counts()
    resp = publisher(
        "POST", "/api/v1/licenses/scans", {"scans": [item("MIT"), item("MIT", owner="../etc")]}
    )
    body = error(resp, 422, "invalid_owner")
    assert body["details"]["index"] == 1
    assert counts() == before


# --- overrides ----------------------------------------------------------------------------


def test_override_with_reason_and_etag(publisher, reviewer):
    publisher.ingest(item("LicenseRef-Custom"))
    record = reviewer.record()
    assert record["current"]["verdict"] == "unknown"
    resp = reviewer.override(
        {"verdict": "permissive", "reason": "the custom license is MIT with a new name"},
        record["etag"],
    )
    assert resp.status_code == 200, resp.get_json()
    after = resp.get_json()
    assert resp.headers["ETag"] == f'"{after["etag"]}"' and after["etag"] != record["etag"]
    current = after["current"]
    assert (current["source"], current["verdict"], current["admitted"]) == (
        "override",
        "permissive",
        True,
    )
    assert current["expression"] == "LicenseRef-Custom"
    assert current["reason"] == "the custom license is MIT with a new name"
    assert current["actor"] == f"user:{reviewer.user.id}"
    assert current["evidence"] == record["current"]["evidence"]
    assert [h["source"] for h in after["history"]] == ["override", "scan"]
    entry = audit_records()[-1]
    assert entry.action == "license.verdict_overridden"
    assert entry.reason == "the custom license is MIT with a new name"
    assert entry.details["replaces"] == record["current"]["id"]
    assert entry.details["verdict"] == "permissive"
    assert b"MIT with a new name" not in entry.raw  # the reason is a deletable note

    # The expression alone: the policy judges it.
    resp = reviewer.override(
        {"expression": "GPL-2.0+", "reason": "COPYING says GPL"}, after["etag"]
    )
    current = resp.get_json()["current"]
    assert (current["expression"], current["verdict"]) == ("GPL-2.0-or-later", "non_permissive")
    resp = reviewer.override(
        {"expression": None, "reason": "no license at all"}, resp.get_json()["etag"]
    )
    assert resp.get_json()["current"]["verdict"] == "no_license"


def test_a_stale_etag_is_412_and_changes_nothing(publisher, reviewer):
    publisher.ingest(item("MIT"))
    stale = reviewer.record()["etag"]
    publisher.ingest(item("Apache-2.0"))
    before = counts()
    resp = reviewer.override({"verdict": "unknown", "reason": "looks odd"}, stale)
    body = error(resp, 412, "precondition_failed")
    assert body["details"]["current_etag"] == reviewer.record()["etag"]
    assert resp.headers["ETag"] == f'"{body["details"]["current_etag"]}"'
    assert error(
        reviewer("POST", RECORD + "/override", {"verdict": "unknown", "reason": "x"}),
        428,
        "precondition_required",
    )
    assert counts() == before


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"verdict": "permissive"}, "validation_error"),  # reason is required
        ({"verdict": "permissive", "reason": "   "}, "reason_required"),
        ({"reason": "nothing to change"}, "override_empty"),
        ({"verdict": "great", "reason": "x"}, "validation_error"),
        ({"expression": "MTI", "reason": "typo"}, "unknown_license"),
        ({"expression": "", "reason": "x"}, "validation_error"),
        ({"expression": "MIT", "reason": "x", "admitted": True}, "validation_error"),
        ({"expression": "MIT", "reason": "x" * 2001}, "validation_error"),
    ],
)
def test_override_refusals(publisher, reviewer, body, code):
    publisher.ingest(item("MIT"))
    etag = reviewer.record()["etag"]
    before = counts()
    error(reviewer.override(body, etag), 422, code)
    assert counts() == before


def test_an_override_stands_until_a_different_scan(publisher, reviewer):
    publisher.ingest(item("LicenseRef-Custom"))
    record = reviewer.record()
    reviewer.override({"verdict": "permissive", "reason": "read it"}, record["etag"])
    before = counts()
    assert publisher.ingest(item("LicenseRef-Custom"))["unchanged"] == 1
    assert counts() == before
    assert reviewer.record()["current"]["source"] == "override"
    publisher.ingest(item("MIT"))
    record = reviewer.record()
    assert [h["source"] for h in record["history"]] == ["scan", "override", "scan"]
    assert record["current"]["expression"] == "MIT"


def test_unknown_repository_is_404(reviewer):
    error(reviewer("GET", RECORD), 404, "not_found")
    error(reviewer.override({"verdict": "unknown", "reason": "x"}, "l1-v1"), 404, "not_found")
    error(reviewer("GET", "/api/v1/licenses/localhost/octocat/hello"), 422, "invalid_host")


# --- disputes -----------------------------------------------------------------------------


def test_owners_disputes_are_linked_both_ways(client, publisher, reviewer, factory):
    early, early_token = factory.request(
        "license", host="github.com", owner="OctoCat", name="Hello"
    )
    publisher.ingest(item("GPL-3.0-only"))
    first = reviewer.record()["current"]["id"]
    late, late_token = factory.request(
        "license", host="github.com", owner="octocat", name="hello.git"
    )
    factory.request("license", host="github.com", owner="octocat", name="other")
    factory.request("repository", host="github.com", owner="octocat", name="hello")
    publisher.ingest(item("MIT"))
    record = reviewer.record()
    assert [(d["id"], d["verdict_id"], d["state"]) for d in record["disputes"]] == [
        (early.id, None, "received"),
        (late.id, first, "received"),
    ]

    owner = Caller(client, late_token)
    shown = owner("GET", f"/api/v1/requests/{late.id}").get_json()
    assert shown["license_verdict"]["verdict_id"] == record["current"]["id"]
    assert shown["license_verdict"]["expression"] == "MIT"
    assert shown["license_verdict"]["verdict"] == "permissive"
    other = Request.get((Request.kind == "license") & (Request.name == "other"))
    assert reviewer("GET", f"/api/v1/requests/{other.id}").get_json()["license_verdict"] is None
    repository_request = Request.get(Request.kind == "repository")
    assert (
        "license_verdict"
        not in reviewer("GET", f"/api/v1/requests/{repository_request.id}").get_json()
    )


# --- listing ------------------------------------------------------------------------------


def test_list_filters_and_pages(app, publisher, reviewer):
    publisher.ingest(
        item("MIT", name="a"),
        item("GPL-3.0-only", name="b"),
        item("MIT", name="c"),
        item("LicenseRef-X", host="gitlab.com", owner="group/sub", name="d"),
    )
    etag = reviewer.record("/api/v1/licenses/github.com/octocat/c")["etag"]
    reviewer.override(
        {"verdict": "unknown", "reason": "check"},
        etag,
        path="/api/v1/licenses/github.com/octocat/c",
    )

    def names(query):
        resp = reviewer("GET", "/api/v1/licenses" + query)
        assert resp.status_code == 200, resp.get_json()
        return [i["name"] for i in resp.get_json()["items"]], resp.get_json()["total"]

    assert names("") == (["a", "b", "c", "d"], 4)  # by host, owner, name
    assert names("?verdict=permissive") == (["a"], 1)
    assert names("?verdict=unknown&verdict=non_permissive") == (["b", "c", "d"], 3)
    assert names("?host=GitLab.com") == (["d"], 1)
    assert names("?source=override") == (["c"], 1)
    assert names("?admitted=false") == (["b", "c", "d"], 3)
    assert names("?per_page=2&page=2") == (["c", "d"], 4)
    listed = reviewer("GET", "/api/v1/licenses?host=gitlab.com").get_json()["items"][0]
    assert listed["owner"] == "group/sub" and listed["current"]["expression"] == "LicenseRef-X"
    assert reviewer.record("/api/v1/licenses/gitlab.com/Group/Sub/D")["name"] == "d"
    for query in ("?verdict=great", "?page=0", "?per_page=201", "?colour=red", "?host=a b"):
        error(reviewer("GET", "/api/v1/licenses" + query), 422, "validation_error")



def test_list_pages_by_cursor_across_hosts_and_owners(publisher, reviewer):
    publisher.ingest(
        *(item("MIT", owner=owner, name=name, host=host)
          for host in ("codeberg.org", "github.com")
          for owner in ("Ana", "bo", "group/sub")
          for name in ("x", "Y", "z")),
    )  # fmt: skip

    def page(query):
        resp = reviewer("GET", "/api/v1/licenses" + query)
        assert resp.status_code == 200, resp.get_json()
        body = resp.get_json()
        return [(i["host"], i["owner"], i["name"]) for i in body["items"]], body["next_cursor"]

    everything, last = page("?per_page=200")
    assert len(everything) == 18 and last is None
    walked, cursor = page("?per_page=4")
    while cursor:
        more, cursor = page(f"?per_page=4&after={cursor}")
        walked += more
    assert walked == everything
    # A verdict filter that an override empties under the reader's feet skips nothing.
    first, cursor = page("?verdict=permissive&per_page=5")
    host, owner, name = first[0]
    path = f"/api/v1/licenses/{host}/{owner}/{name}"
    reviewer.override({"verdict": "unknown", "reason": "check"}, reviewer.record(path)["etag"],
                      path=path)  # fmt: skip
    rest, _ = page(f"?verdict=permissive&per_page=200&after={cursor}")
    assert first + rest == everything
    for bad in ("x", cursor + "&page=2"):
        error(reviewer("GET", f"/api/v1/licenses?after={bad}"), 422, "invalid_cursor")


# --- roles and bad input ------------------------------------------------------------------


def test_reviewers_read_and_override_but_do_not_ingest(reviewer, client, factory):
    error(reviewer("POST", "/api/v1/licenses/scans", {"scans": [item()]}), 403, "forbidden")
    _req, owner_token = factory.request("license")
    error(Caller(client, owner_token)("GET", "/api/v1/licenses"), 403, "forbidden")
    error(Caller(client, None)("GET", RECORD), 401, "unauthorized")


def _without(data: dict, path: list[str]) -> dict:
    data = copy.deepcopy(data)
    target = data
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return data


def _with(data: dict, path: list, value) -> dict:
    data = copy.deepcopy(data)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


GOOD = {"scans": [item("MIT")]}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"scans": []}, "validation_error"),
        ({}, "validation_error"),
        ([item()], "validation_error"),
        ({"scans": [item()], "force": True}, "validation_error"),
        (_with(GOOD, ["scans", 0, "colour"], "red"), "validation_error"),
        (_with(GOOD, ["scans", 0, "scan", "colour"], "red"), "validation_error"),
        (_with(GOOD, ["scans", 0, "scan", "evidence", 0, "colour"], "red"), "validation_error"),
        (_with(GOOD, ["scans", 0, "scan", "detector", "colour"], "red"), "validation_error"),
        (_without(GOOD, ["scans", 0, "scan", "detector"]), "validation_error"),
        (_without(GOOD, ["scans", 0, "scan", "declared"]), "validation_error"),
        (_without(GOOD, ["scans", 0, "name"]), "validation_error"),
        (_with(GOOD, ["scans", 0, "scan", "declared"], ""), "validation_error"),
        (_with(GOOD, ["scans", 0, "scan", "declared"], 42), "validation_error"),
        (_with(GOOD, ["scans", 0, "scan", "declared"], "   "), "invalid_expression"),
        (_with(GOOD, ["scans", 0, "scan", "evidence", 0, "score"], 1.5), "validation_error"),
        (_with(GOOD, ["scans", 0, "scan", "evidence", 0, "line"], "3"), "validation_error"),
        (_with(GOOD, ["scans", 0, "scan", "files_scanned"], -1), "validation_error"),
        (_with(GOOD, ["scans", 0, "scan", "verdict"], "great"), "validation_error"),
        (_with(GOOD, ["scans", 0, "host"], "127.0.0.1"), "invalid_host"),
        (_with(GOOD, ["scans", 0, "name"], "a/b"), "invalid_name"),
        (_with(GOOD, ["scans", 0, "scan", "declared"], "MIT\u0000"), "nul_character"),
        ({"scans": [item("MIT", name=f"r{i}") for i in range(1001)]}, "validation_error"),
    ],
)
def test_bad_scans_are_refused_and_store_nothing(publisher, body, code):
    before = counts()
    error(publisher("POST", "/api/v1/licenses/scans", body), 422, code)
    assert counts() == before


def test_malformed_bodies(publisher):
    url = "/api/v1/licenses/scans"
    error(
        publisher("POST", url, data="{not json", content_type="application/json"),
        400,
        "invalid_json",
    )
    error(
        publisher("POST", url, data="scans=1", content_type="text/plain"),
        415,
        "unsupported_media_type",
    )
    assert counts()[1] == 0


def test_ingestion_has_its_own_size_limit(app, publisher, reviewer):
    header = {
        "path": "src/x.py",
        "expression": "MIT",
        "score": 1.0,
        "detector": "spdx-header",
        "kind": "spdx_header",
    }
    evidence = [dict(header, path=f"src/file{i:05d}.py", line=1) for i in range(1500)]
    big = {"scans": [item("MIT", evidence=evidence)]}
    size = len(json.dumps(big))
    assert app.config["MAX_CONTENT_LENGTH"] < size < app.config["LICENSE_SCANS_MAX_CONTENT_LENGTH"]
    assert publisher("POST", "/api/v1/licenses/scans", big).status_code == 200
    assert len(reviewer.record()["current"]["evidence"]) == 1500
    # Other endpoints keep the app's cap.
    etag = reviewer.record()["etag"]
    resp = reviewer.override({"verdict": "unknown", "reason": "x" * (70 * 1024)}, etag)
    error(resp, 413, "payload_too_large")
    app.config["LICENSE_SCANS_MAX_CONTENT_LENGTH"] = size - 1
    before = counts()
    error(publisher("POST", "/api/v1/licenses/scans", big), 413, "payload_too_large")
    assert counts() == before


def test_the_openapi_spec_documents_the_endpoints(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    paths = spec["paths"]
    assert "/api/v1/licenses/scans" in paths
    override = paths["/api/v1/licenses/{host}/{owner}/{name}/override"]["post"]
    assert override["x-roles"] == sorted(states.USER_ROLES)
    assert any(p["name"] == "If-Match" for p in override["parameters"])
    assert paths["/api/v1/licenses/scans"]["post"]["x-roles"] == ["admin", "publisher"]
