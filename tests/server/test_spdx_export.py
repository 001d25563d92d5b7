"""SPDX 2.3 export: documents round-trip through spdx-tools' parser and validator with zero
messages (JSON and tag-value), for tricky expressions, overrides and whole releases; files are
written atomically; the CLI."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from spdx_tools.common.spdx_licensing import spdx_licensing
from spdx_tools.spdx.model import SpdxNoAssertion, SpdxNone
from spdx_tools.spdx.parser.parse_anything import parse_file
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

from server import spdx_export
from server.models import LicenseVerdict
from server.workflows import catalog
from server.workflows import licenses as workflow

OPTOUT = str(Path(sys.executable).parent / "optout")
FORMATS = ("json", "tag-value")

# (what a scan declares, the expression stored and exported)
EXPRESSIONS = {
    "plain": ("MIT", "MIT"),
    "with-exception": (
        "GPL-2.0-or-later WITH Classpath-exception-2.0",
        "GPL-2.0-or-later WITH Classpath-exception-2.0",
    ),
    "dual": ("MIT OR Apache-2.0", "MIT OR Apache-2.0"),
    "licenseref": (
        "LicenseRef-Frobnicate-1.0 OR (BSD-3-Clause AND Zlib)",
        "LicenseRef-Frobnicate-1.0 OR (BSD-3-Clause AND Zlib)",
    ),
    "unknown-id": ("Frobnicate-2 AND MIT", "LicenseRef-Frobnicate-2 AND MIT"),
    "deprecated": ("GPL-2.0+", "GPL-2.0-or-later"),
    "all-together": (
        "(Apache-2.0 WITH LLVM-exception OR LicenseRef-scancode-public-domain) AND "
        "(GPL-3.0-only OR LicenseRef-Custom)",
        "(Apache-2.0 WITH LLVM-exception OR LicenseRef-scancode-public-domain) AND "
        "(GPL-3.0-only OR LicenseRef-Custom)",
    ),
}


def parse(path: Path):
    """spdx-tools' own parser. Its tag-value grammar (ply) writes its tables into
    site-packages on first use and leaks the file handle doing so: not our code."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        return parse_file(str(path))


def scan(declared: str | None) -> dict:
    evidence = (
        []
        if declared is None
        else [
            {
                "path": "LICENSE",
                "expression": declared,
                "score": 0.97,
                "detector": "askalono",
                "kind": "license_file",
            }
        ]
    )
    return {
        "declared": declared,
        "detector": {"name": "askalono", "version": "0.2.0"},
        "evidence": evidence,
    }


def ingest(declared, host="github.com", owner="octocat", name="hello"):
    [result] = workflow.ingest_scans(
        [{"host": host, "owner": owner, "name": name, "scan": scan(declared)}], actor="test"
    )
    return result["repository"], result["verdict"]


def export_one(tmp_path, host="github.com", owner="octocat", name="hello", fmt="both"):
    key = workflow.repository_key(host, owner, name)
    subjects = [
        spdx_export.Subject(h, o, n, v, workflow.scanned_expression(v))
        for h, o, n, v in workflow.repositories_for_export(key)
    ]
    return spdx_export.export(
        subjects, tmp_path / "out", spdx_export.FORMATS[fmt], "https://optout.example.org"
    )


def same_license(exported, expected: str) -> bool:
    # Compared as rendered text: symbols parsed from a file may differ in flags only.
    return str(exported) == spdx_licensing.parse(expected).render()


@pytest.mark.parametrize("case", sorted(EXPRESSIONS))
def test_documents_round_trip_with_zero_messages(app, tmp_path, case):
    declared, stored = EXPRESSIONS[case]
    _repo, verdict = ingest(declared)
    assert verdict.expression == stored
    paths = export_one(tmp_path)
    assert [p.name for p in paths] == ["hello.spdx.json", "hello.spdx"]
    refs = {
        token
        for token in stored.replace("(", " ").replace(")", " ").split()
        if token.startswith("LicenseRef-")
    }
    for path in paths:
        document = parse(path)
        assert validate_full_spdx_document(document) == [], path
        assert document.creation_info.spdx_version == "SPDX-2.3"
        assert document.creation_info.document_namespace.startswith(
            "https://optout.example.org/spdx/github.com/octocat/hello/verdict-"
        )
        assert [str(c) for c in document.creation_info.creators][0].startswith("Tool: optout-")
        [package] = document.packages
        assert package.files_analyzed is False
        assert same_license(package.license_declared, stored)
        assert same_license(package.license_concluded, stored)
        assert {e.license_id for e in document.extracted_licensing_info} == refs
        assert all(e.extracted_text for e in document.extracted_licensing_info)
        assert [(r.spdx_element_id, r.related_spdx_element_id) for r in document.relationships] == [
            ("SPDXRef-DOCUMENT", package.spdx_id)
        ]


def test_an_override_is_the_concluded_license(app, tmp_path):
    repo, verdict = ingest("LicenseRef-Custom")
    workflow.override_verdict(
        workflow.repository_key("github.com", "octocat", "hello"),
        "it is MIT really",
        "user:1",
        {workflow.etag_of(repo)},
        expression="MIT OR LicenseRef-Custom",
    )
    for path in export_one(tmp_path):
        document = parse(path)
        assert validate_full_spdx_document(document) == []
        [package] = document.packages
        assert same_license(package.license_declared, "LicenseRef-Custom")
        assert same_license(package.license_concluded, "MIT OR LicenseRef-Custom")
        assert "a reviewer's override" in package.license_comment
        assert "it is MIT really" not in path.read_text()  # reasons stay on the server
        assert [e.license_id for e in document.extracted_licensing_info] == ["LicenseRef-Custom"]


def test_no_license_is_none_and_no_verdict_is_noassertion(app, tmp_path):
    ingest(None, name="bare")
    ingest("MIT", owner="group/sub", host="gitlab.com", name="lib")
    catalog.load_catalog(
        io.BytesIO(
            b"".join(
                json.dumps({"host": h, "owner": o, "name": n, "release": "v2", "files": 1}).encode()
                + b"\n"
                for h, o, n in [
                    ("github.com", "octocat", "bare"),
                    ("gitlab.com", "Group/Sub", "LIB"),
                    ("github.com", "octocat", "unjudged"),
                ]
            )
        )
    )
    subjects = [
        spdx_export.Subject(h, o, n, v, v and workflow.scanned_expression(v))
        for h, o, n, v in workflow.repositories_for_export(release="v2")
    ]
    assert [(s.address, s.verdict is not None) for s in subjects] == [
        ("github.com/octocat/bare", True),
        ("github.com/octocat/unjudged", False),
        ("gitlab.com/Group/Sub/LIB", True),
    ]
    paths = spdx_export.export(subjects, tmp_path, ("json", "tag-value"), "http://x.example")
    assert len(paths) == 6
    found = {}
    for path in paths:
        document = parse(path)
        assert validate_full_spdx_document(document) == [], path
        found[(path.relative_to(tmp_path).as_posix(), path.suffix)] = document.packages[0]
    bare = found[("github.com/octocat/bare.spdx", ".spdx")]
    assert isinstance(bare.license_declared, SpdxNone)
    assert isinstance(bare.license_concluded, SpdxNone)
    unjudged = found[("github.com/octocat/unjudged.spdx.json", ".json")]
    assert isinstance(unjudged.license_declared, SpdxNoAssertion)
    assert isinstance(unjudged.license_concluded, SpdxNoAssertion)
    lib = found[("gitlab.com/Group/Sub/LIB.spdx.json", ".json")]
    assert same_license(lib.license_concluded, "MIT")


def test_a_document_the_validator_refuses_is_never_written(app, tmp_path):
    ingest("MIT")
    subjects = [
        spdx_export.Subject(h, o, n, v, v.expression)
        for h, o, n, v in workflow.repositories_for_export(
            workflow.repository_key("github.com", "octocat", "hello")
        )
    ]
    with pytest.raises(spdx_export.ExportError, match="document_namespace|namespace"):
        spdx_export.export(subjects, tmp_path / "out", ("json",), "not a uri#at all")
    assert not (tmp_path / "out").exists()


def test_a_failed_write_leaves_no_file_behind(app, tmp_path, monkeypatch):
    ingest("MIT")
    [good] = export_one(tmp_path, fmt="json")
    before = good.read_bytes()

    def broken(document, file_name, validate=True):
        Path(file_name).write_text("{")  # half written, then the disk fills up
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(spdx_export, "write_file", broken)
    with pytest.raises(OSError, match="No space"):
        export_one(tmp_path, fmt="both")
    assert good.read_bytes() == before  # the previous export is intact
    assert sorted(p.name for p in good.parent.iterdir()) == ["hello.spdx.json"]


# --- the CLI, as a newcomer runs it -------------------------------------------------------


@pytest.fixture
def run(database_url, instance):
    env = {**os.environ, "OPTOUT_INSTANCE": str(instance), "OPTOUT_DATABASE_URL": database_url}

    def invoke(*args, stdin=None):
        return subprocess.run(
            [OPTOUT, *args], env=env, capture_output=True, text=True, timeout=120, input=stdin
        )

    return invoke


def test_cli_ingest_then_export(app, run, tmp_path):
    scans = tmp_path / "scans.jsonl"
    scans.write_text(
        json.dumps(
            {
                "host": "github.com",
                "owner": "octocat",
                "name": "hello",
                "scan": scan("MIT OR Frobnicate-1.0"),
            }
        )
        + "\n\n"
        + json.dumps(
            {
                "host": "gitlab.com",
                "owner": "group/sub",
                "name": "lib",
                "scan": scan("GPL-2.0-only WITH Classpath-exception-2.0"),
            }
        )
        + "\n"
    )
    first = run("licenses", "ingest", str(scans), "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == {"scans": 2, "created": 2, "unchanged": 0}
    again = run("licenses", "ingest", str(scans))
    assert again.stdout.strip() == "2 scan(s): 0 new verdict(s), 2 unchanged"

    out = tmp_path / "spdx"
    done = run(
        "licenses",
        "export",
        "--repository",
        "github.com/octocat/hello",
        "--out",
        str(out),
        "--json",
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["repositories"] == 1 and summary["without_verdict"] == 0
    for name in summary["documents"]:
        document = parse(Path(name))
        assert validate_full_spdx_document(document) == []
        assert same_license(
            document.packages[0].license_declared, "MIT OR LicenseRef-Frobnicate-1.0"
        )
    tv = run(
        "licenses",
        "export",
        "--repository",
        "gitlab.com/Group/Sub/LIB",
        "--out",
        str(out),
        "--format",
        "tag-value",
    )
    assert tv.returncode == 0, tv.stderr
    assert tv.stdout.startswith("wrote 1 document(s) for 1 repositories")
    text = (out / "gitlab.com" / "group" / "sub" / "lib.spdx").read_text()
    assert "PackageLicenseDeclared: GPL-2.0-only WITH Classpath-exception-2.0" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export", "--out", "x"], "--repository HOST/OWNER/NAME or --release NAME"),
        (["export", "--out", "x", "--repository", "a/b/c", "--release", "v1"], "one of them"),
        (["export", "--out", "x", "--repository", "github.com/nobody/none"], "not_found"),
        (["export", "--out", "x", "--repository", "github.com/justone"], "HOST/OWNER/NAME"),
        (["export", "--out", "x", "--release", "v9"], "release v9 does not exist"),
    ],
)
def test_cli_usage_errors_exit_2_with_one_line(app, run, args, message):
    result = run("licenses", *args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr


def test_cli_ingest_refuses_a_bad_line_and_stores_nothing(app, run, tmp_path):
    good = json.dumps({"host": "github.com", "owner": "o", "name": "r", "scan": scan("MIT")})
    for bad, message in [
        ("{oops", "line 2: not valid JSON"),
        (
            json.dumps(
                {"host": "github.com", "owner": "o", "name": "r", "scan": scan("MIT"), "colour": 1}
            ),
            "line 2: does not match the scan format",
        ),
        (
            json.dumps({"host": "localhost", "owner": "o", "name": "r", "scan": scan("MIT")}),
            "line 2: ",
        ),
    ]:
        path = tmp_path / "scans.jsonl"
        path.write_text(good + "\n" + bad + "\n")
        result = run("licenses", "ingest", str(path))
        assert result.returncode == 2 and message in result.stderr, result.stderr
        assert result.stderr.count("\n") == 1
    assert LicenseVerdict.select().count() == 0


@pytest.mark.parametrize("command", ["ingest", "export"])
def test_cli_help_has_an_example(run, command):
    result = run("licenses", command, "--help")
    assert result.returncode == 0 and "Example:" in result.stdout
