"""The dataset catalog: streaming, idempotent loads, and owners' lookups (service, CLI, HTTP)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from server.auth import Principal
from server.errors import ApiError
from server.models import CatalogEntry, CatalogRelease
from server.workflows import catalog
from server.workflows import requests as request_workflow
from shared import states
from shared.client import ApiClientError
from tests.audit_log import audit_count, audit_records

OPTOUT = str(Path(sys.executable).parent / "optout")


def entry(owner="octocat", name="hello", release="v1", files=3, host="github.com", **extra):
    return {"host": host, "owner": owner, "name": name, "release": release, "files": files, **extra}


def jsonl(*entries) -> bytes:
    return b"".join(json.dumps(e).encode() + b"\n" for e in entries)


def load(*entries, **kwargs) -> dict:
    return catalog.load_catalog(io.BytesIO(jsonl(*entries)), **kwargs)


def rows() -> list[tuple]:
    """The whole catalog, comparable across loads."""
    query = CatalogEntry.select(CatalogEntry, CatalogRelease).join(CatalogRelease)
    entries = sorted(
        (e.release.name, e.host, e.owner, e.owner_key, e.name, e.name_key, e.file_count)
        for e in query
    )
    releases = sorted((r.id, r.name, r.repositories, r.files) for r in CatalogRelease.select())
    return [*entries, *releases]


BASE = [
    entry("Octocat", "Hello", "v1", 3),
    entry("octocat", "spoon-knife", "v1", 10),
    entry("octo-org", "tools", "v1", 7),
    entry("octocat", "hello", "v2", 4),
    entry("group/sub", "proj", "v2", 1, host="GitLab.com"),
]


# --- loading --------------------------------------------------------------------------


def test_load_reports_each_release_and_audits_it(app):
    summary = load(*BASE)
    assert summary == {
        "lines": 5,
        "releases": [
            {"name": "v1", "repositories": 3, "files": 20, "lines": 3, "previous": None},
            {"name": "v2", "repositories": 2, "files": 5, "lines": 2, "previous": None},
        ],
    }
    v1 = CatalogRelease.get(CatalogRelease.name == "v1")
    assert (v1.repositories, v1.files) == (3, 20)
    hello = CatalogEntry.get((CatalogEntry.release == v1) & (CatalogEntry.name_key == "hello"))
    assert (hello.host, hello.owner, hello.owner_key, hello.name) == (
        "github.com",
        "Octocat",
        "octocat",
        "Hello",
    )
    assert CatalogEntry.get(CatalogEntry.name == "proj").host == "gitlab.com"
    audits = [a for a in audit_records() if a.action == "catalog.loaded"]
    assert [(a.actor, a.subject, a.details) for a in audits] == [
        ("cli", f"release:{v1.id}", {"release": "v1", "repositories": 3, "files": 20}),
        (
            "cli",
            f"release:{CatalogRelease.get(CatalogRelease.name == 'v2').id}",
            {"release": "v2", "repositories": 2, "files": 5},
        ),
    ]


def test_loading_the_same_file_twice_gives_the_same_rows(app):
    load(*BASE)
    first = rows()
    summary = load(*BASE)
    assert rows() == first
    assert summary["releases"][0]["previous"] == {"repositories": 3, "files": 20}


def test_reloading_a_release_replaces_it_and_leaves_the_others_alone(app):
    load(*BASE)
    v2_before = [r for r in rows() if r[0] == "v2"]
    summary = load(entry("octocat", "hello", "v1", 1), entry("new", "repo", "v3", 2))
    assert [r["name"] for r in summary["releases"]] == ["v1", "v3"]
    v1 = CatalogRelease.get(CatalogRelease.name == "v1")
    assert [(e.owner, e.name, e.file_count) for e in v1.entries] == [("octocat", "hello", 1)]
    assert (v1.repositories, v1.files) == (1, 1)
    assert [r for r in rows() if r[0] == "v2"] == v2_before
    assert catalog.lookup("github.com", "octo-org")["releases"] == []


def test_the_last_duplicate_wins_even_across_batches(app, monkeypatch):
    monkeypatch.setattr(catalog, "BATCH", 2)
    summary = load(
        entry("a", "x", files=1),
        entry("A", "X", files=2),  # same repository: forges ignore case
        entry("b", "y", files=5),
        entry("c", "z", files=6),
        entry("a", "x", files=9),  # in a later batch
    )
    assert summary["releases"][0] == {
        "name": "v1",
        "repositories": 3,
        "files": 20,
        "lines": 5,
        "previous": None,
    }
    kept = CatalogEntry.get(CatalogEntry.name_key == "x")
    assert (kept.owner, kept.name, kept.file_count) == ("a", "x", 9)


def test_file_count_is_an_alias_and_blank_lines_and_extra_keys_are_ignored(app):
    data = (
        b"\n"
        + json.dumps(
            {"host": "github.com", "owner": "o", "name": "n", "release": "r", "file_count": 4}
        ).encode()
        + b"\r\n   \n"
        + json.dumps(entry("o", "m", "r", 0, swhid="swh:1:snp:00")).encode()
    )  # no final newline
    summary = catalog.load_catalog(io.BytesIO(data))
    assert summary["lines"] == 2
    assert summary["releases"][0]["files"] == 4


def test_text_streams_and_generators_load_too(app):
    catalog.load_catalog(io.StringIO(jsonl(*BASE).decode()))
    first = rows()
    catalog.load_catalog(json.dumps(e) for e in BASE)
    assert rows() == first


def test_an_empty_file_changes_nothing(app):
    load(*BASE)
    before = rows()
    assert catalog.load_catalog(io.BytesIO(b"\n\n")) == {"lines": 0, "releases": []}
    assert rows() == before


HUGE = b'{"host": "github.com", "owner": "o", "name": "n", "release": "v1", "files": 1, "pad": "'


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        (b"{not json", None, "not valid JSON"),
        (b"[1, 2]", None, "not a JSON object"),
        (
            json.dumps({"host": "github.com", "owner": "o", "release": "v1", "files": 1}),
            "name",
            "missing name",
        ),
        (json.dumps(entry(host="not a host")), "host", "not a host name"),
        (json.dumps(entry(host="127.0.0.1")), "host", "not a host name"),
        (json.dumps(entry(owner="../etc")), "owner", "not an account"),
        (json.dumps(entry(name="a b")), "name", "not a repository name"),
        (json.dumps(entry(owner=7)), "owner", "must be a string"),
        (json.dumps(entry(files=-1)), "files", "integer from 0"),
        (json.dumps(entry(files=True)), "files", "integer from 0"),
        (json.dumps(entry(files="3")), "files", "integer from 0"),
        (json.dumps(entry(files=2**31)), "files", "integer from 0"),
        (json.dumps({**entry(), "file_count": 3}), "files", "not both"),
        (json.dumps({k: v for k, v in entry().items() if k != "files"}), "files", "missing files"),
        (json.dumps(entry(release="v1/../x")), "release", "release must be"),
        (json.dumps(entry(release="r" * 129)), "release", "release must be"),
        (b'{"host": "github.com", "owner": "\xff"}', None, "not UTF-8"),
        (HUGE + b"x" * 100_000 + b'"}', None, "longer than"),
    ],
)
def test_a_bad_line_aborts_the_load_and_changes_nothing(app, line, field, message):
    load(*BASE)
    before = rows()
    audits = audit_count()
    line = line.encode() if isinstance(line, str) else line
    # The first two lines would replace v1 and v2: the bad third line must undo that.
    data = jsonl(entry("x", "y", "v1"), entry("x", "y", "v2")) + b"\n" + line + b"\n"
    with pytest.raises(ApiError) as caught:
        catalog.load_catalog(io.BytesIO(data))
    error = caught.value
    assert (error.status, error.code) == (422, "invalid_catalog_line")
    assert error.message.startswith("line 4: ") and message in error.message
    assert error.details == ({"line": 4, "field": field} if field else {"line": 4})
    assert rows() == before
    assert audit_count() == audits


def test_a_huge_line_is_never_read_whole(app):
    class Endless(io.RawIOBase):
        """A single line that never ends: reading it whole would never return."""

        def readable(self):
            return True

        def readinto(self, buffer):
            buffer[:] = b"x" * len(buffer)
            return len(buffer)

    with pytest.raises(ApiError) as caught:
        catalog.load_catalog(io.BufferedReader(Endless()))
    assert "longer than" in caught.value.message


def _many(count, release="big"):
    for i in range(count):
        yield json.dumps(entry(f"owner{i % 97}", f"repo-{i}", release, i % 50)) + "\n"


def test_a_large_stream_is_written_in_batches_while_it_is_read(app):
    seen_in_database = []

    def lines():
        for number, line in enumerate(_many(50_000), start=1):
            if number == 30_000:  # same connection, same transaction: the rows are visible
                seen_in_database.append(CatalogEntry.select().count())
            yield line

    summary = catalog.load_catalog(lines())
    assert summary["releases"][0]["repositories"] == 50_000
    assert summary["releases"][0]["files"] == sum(i % 50 for i in range(50_000))
    assert seen_in_database and seen_in_database[0] >= 28_000


def test_memory_does_not_grow_with_the_file(app, tmp_path):
    def peak(count):
        path = tmp_path / f"{count}.jsonl"
        with path.open("w") as out:
            out.writelines(_many(count, release=f"r{count}"))
        tracemalloc.start()
        try:
            with path.open("rb") as stream:
                catalog.load_catalog(stream)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(2_000), peak(20_000)
    # Ten times the lines (2 MB more of them) in about the same memory: a batch, not the file.
    assert large < small + 1_000_000, (small, large)


def test_progress_is_reported_in_bytes(app):
    data = jsonl(*BASE)
    reported = []
    catalog.load_catalog(io.BytesIO(data), progress=reported.append)
    assert sum(reported) == len(data)


def test_list_releases(app):
    load(*BASE)
    listed = catalog.list_releases()
    assert [(r["name"], r["repositories"], r["files"]) for r in listed] == [
        ("v2", 2, 5),
        ("v1", 3, 20),
    ]
    assert listed[0]["loaded_at"].tzinfo is not None


# --- lookup ---------------------------------------------------------------------------


def test_account_lookup_lists_releases_and_repositories(app):
    load(*BASE)
    found = catalog.lookup("GitHub.com", "OCTOCAT")
    assert (found["host"], found["owner"], found["name"]) == ("github.com", "OCTOCAT", None)
    summary = [
        (r["name"], r["repository_count"], r["files"], r["truncated"], r["repositories"])
        for r in found["releases"]
    ]
    assert summary == [
        ("v2", 1, 4, False, [{"name": "hello", "files": 4}]),
        ("v1", 2, 13, False, [{"name": "Hello", "files": 3}, {"name": "spoon-knife", "files": 10}]),
    ]
    assert found["requests"] == [] and found["requests_total"] == 0


def test_lookup_ignores_case_of_host_owner_and_name(app):
    load(entry("Foo", "Bar", "v1", 2))
    for host, owner, name in [
        ("github.com", "foo", "bar"),
        ("GitHub.com", "FOO", "BAR"),
        ("github.com.", "Foo", "Bar.git"),
    ]:
        found = catalog.lookup(host, owner, name)
        assert [r["name"] for r in found["releases"]] == ["v1"], (host, owner, name)
        assert found["releases"][0]["repositories"] == [{"name": "Bar", "files": 2}]
    assert catalog.lookup("github.com", "foo", "other")["releases"] == []
    assert catalog.lookup("gitlab.com", "foo")["releases"] == []


def test_nested_groups_are_matched_exactly(app):
    load(*BASE)
    assert [r["name"] for r in catalog.lookup("gitlab.com", "Group/Sub")["releases"]] == ["v2"]
    assert catalog.lookup("gitlab.com", "group")["releases"] == []


def test_a_large_account_is_truncated_with_a_total(app):
    catalog.load_catalog(
        json.dumps(entry("big", f"r{i:04d}", "v1", 1))
        for i in range(catalog.MAX_NAMES_PER_RELEASE + 7)
    )
    release = catalog.lookup("github.com", "big")["releases"][0]
    assert release["truncated"] is True
    assert release["repository_count"] == catalog.MAX_NAMES_PER_RELEASE + 7
    assert release["files"] == catalog.MAX_NAMES_PER_RELEASE + 7
    assert len(release["repositories"]) == catalog.MAX_NAMES_PER_RELEASE
    assert release["repositories"][0]["name"] == "r0000"


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("not a host", "o"), "invalid_host"),
        (("github.com", "a b"), "invalid_owner"),
        (("github.com", "o", "../x"), "invalid_name"),
    ],
)
def test_lookup_refuses_malformed_scopes(app, args, code):
    with pytest.raises(ApiError) as caught:
        catalog.lookup(*args)
    assert (caught.value.status, caught.value.code) == (422, code)


def _withdraw(req):
    owner = Principal(states.OWNER, "owner", request_id=req.id)
    return request_workflow.transition_request(
        req.id, states.WITHDRAWN, None, owner, {request_workflow.etag_of(req)}
    )


def test_covering_requests_are_shown_without_notes_paths_or_tokens(app, factory):
    whole, _ = factory.request("owner", owner="OctoCat", notes="private note")
    repo, token = factory.request("repository", states.VERIFIED, owner="octocat", name="Hello")
    leak, _ = factory.request(
        "file", host="github.com", owner="octocat", name="hello", path="keys/prod.env"
    )
    dispute, _ = factory.request("license", host="github.com", owner="octocat", name="hello")
    other, _ = factory.request("repository", owner="octocat", name="spoon-knife")
    withdrawn = _withdraw(factory.request("repository", owner="octocat", name="hello")[0])
    factory.request("owner", owner="someone-else")
    load(*BASE)

    found = catalog.lookup("github.com", "octocat", "HELLO")
    assert [(r["id"], r["kind"], r["state"]) for r in found["requests"]] == [
        (whole.id, "owner", "received"),
        (repo.id, "repository", "verified"),
        (leak.id, "file", "received"),
        (dispute.id, "license", "received"),
        (withdrawn.id, "repository", "withdrawn"),
    ]
    scopes = {r["kind"]: r["scope"] for r in found["requests"]}
    assert scopes["owner"] == "every repository of github.com/OctoCat, current and future"
    assert scopes["file"] == "a file in github.com/octocat/hello"
    assert set(found["requests"][0]) == {"id", "kind", "state", "scope", "created_at"}
    text = json.dumps(found, default=str)
    assert "private note" not in text and "prod.env" not in text and token not in text
    assert found["requests_total"] == 5

    account = catalog.lookup("github.com", "OCTOCAT")
    assert {r["id"] for r in account["requests"]} == {
        whole.id,
        repo.id,
        leak.id,
        dispute.id,
        other.id,
        withdrawn.id,
    }


# --- HTTP -----------------------------------------------------------------------------


def test_lookup_over_http_with_the_shared_client(app, api, factory):
    load(*BASE)
    req, _ = factory.request("repository", owner="octocat", name="hello")
    client = api()
    found = client.lookup("GitHub.com", "OctoCat", "hello")
    assert [(r["name"], r["repositories"]) for r in found["releases"]] == [
        ("v2", [{"name": "hello", "files": 4}]),
        ("v1", [{"name": "Hello", "files": 3}]),
    ]
    assert found["releases"][0]["loaded_at"].endswith("+00:00")
    assert [(r["id"], r["state"]) for r in found["requests"]] == [(req.id, "received")]
    account = client.lookup("github.com", "octocat")
    assert account["name"] is None and len(account["releases"]) == 2
    assert client.lookup("github.com", "nobody") == {
        "host": "github.com",
        "owner": "nobody",
        "name": None,
        "releases": [],
        "requests": [],
        "requests_total": 0,
    }


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"host": "github.com"}, "validation_error"),
        ({"host": "github.com", "owner": "o", "extra": "1"}, "validation_error"),
        ({"host": "localhost", "owner": "o"}, "invalid_host"),
        ({"host": "github.com", "owner": "o", "name": "a/b"}, "validation_error"),
        ({"host": "github.com", "owner": "o", "name": ".."}, "invalid_name"),
        ({"host": "github.com", "owner": "o" * 300}, "validation_error"),
    ],
)
def test_lookup_over_http_refuses_bad_queries(api, params, code):
    client = api()
    with pytest.raises(ApiClientError) as caught:
        client._call("GET", "/lookup", params=params)
    assert (caught.value.status, caught.value.code) == (422, code)


# --- CLI ------------------------------------------------------------------------------


@pytest.fixture
def run(app, database_url, instance):
    env = {**os.environ, "OPTOUT_INSTANCE": str(instance), "OPTOUT_DATABASE_URL": database_url}

    def invoke(*args, stdin=None, check=True):
        result = subprocess.run(
            [OPTOUT, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120
        )
        if check and result.returncode != 0:
            raise AssertionError(f"optout {' '.join(args)} failed: {result.stderr}")
        return result

    return invoke


def test_cli_loads_a_file_and_reports_each_release(run, tmp_path):
    path = tmp_path / "catalog.jsonl"
    path.write_bytes(jsonl(*BASE))
    first = run("catalog", "load", str(path))
    assert first.stdout.splitlines() == [
        "v1: 3 repositories, 20 files (new)",
        "v2: 2 repositories, 5 files (new)",
    ]
    again = json.loads(run("catalog", "load", str(path), "--json").stdout)
    assert again["releases"][0]["previous"] == {"repositories": 3, "files": 20}
    found = catalog.lookup("github.com", "octocat", "hello")
    assert [r["name"] for r in found["releases"]] == ["v2", "v1"]
    listed = json.loads(run("catalog", "releases", "--json").stdout)
    assert [(r["name"], r["repositories"], r["files"]) for r in listed] == [
        ("v2", 2, 5),
        ("v1", 3, 20),
    ]
    assert run("catalog", "releases").stdout.startswith("v2\t2 repositories\t5 files\tloaded ")


def test_cli_reads_stdin(run):
    result = run("catalog", "load", "-", "--json", stdin=jsonl(*BASE[:3]).decode())
    assert [r["name"] for r in json.loads(result.stdout)["releases"]] == ["v1"]
    assert CatalogRelease.get(CatalogRelease.name == "v1").repositories == 3


def test_cli_bad_line_exits_2_with_one_line_and_changes_nothing(run, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(jsonl(*BASE) + b'{"host": "github.com"}\n')
    result = run("catalog", "load", str(path), check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: line 6: missing owner [invalid_catalog_line]"
    assert CatalogRelease.select().count() == 0
    missing = run("catalog", "load", str(tmp_path / "nope.jsonl"), check=False)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr


def test_cli_help_has_examples(run):
    for command in ("load", "releases"):
        assert "Example:" in run("catalog", command, "--help").stdout
