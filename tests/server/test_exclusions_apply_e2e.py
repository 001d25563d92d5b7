"""End to end: approve on the server, publish, pull over HTTP with the CLI, apply to Parquet."""

from __future__ import annotations

import json
import subprocess

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shared import states
from tests.server.test_exclusions import OPTOUT, _keys, _publish


@pytest.fixture
def publisher(api, factory):
    return api(factory.user("publisher")[1])


def test_published_list_pulled_and_applied_removes_exactly_the_covered_rows(
        live_server, factory, publisher, tmp_path):
    factory.request("repository", states.APPROVED, owner="Octo", name="Hello")
    factory.request("owner", states.APPROVED, owner="Acme")
    factory.request("file", states.APPROVED, host="github.com", owner="jane", name="site",
                    path="cfg/.env")
    factory.request("repository", states.CONFIRMED, owner="keep", name="me")  # not approved
    assert _publish(publisher, expires_days=7)["rules"] == 3

    trust = tmp_path / "optout.pub"
    trust.write_text(_keys(live_server)["current"] + "\n")
    state = tmp_path / "state"
    pulled = subprocess.run([OPTOUT, "exclusions", "pull", "--server", live_server,
                             "--trust", str(trust), "--state", str(state)],
                            capture_output=True, text=True, timeout=60)
    assert pulled.returncode == 0, pulled.stderr

    rows = [  # (host, owner, name, path, covered)
        ("github.com", "octo", "hello", "a.py", True),
        ("GitHub.com", "OCTO", "Hello", "b.py", True),
        ("github.com", "octo", "world", "a.py", False),
        ("github.com", "acme", "one", "x.c", True),
        ("github.com", "Acme", "two", "y.c", True),
        ("gitlab.com", "acme", "one", "x.c", False),
        ("github.com", "jane", "site", "cfg/.env", True),
        ("github.com", "jane", "site", "index.html", False),
        ("github.com", "keep", "me", "z.py", False),
    ]
    data = pa.table({"host": [r[0] for r in rows], "owner": [r[1] for r in rows],
                     "name": [r[2] for r in rows], "path": [r[3] for r in rows],
                     "blob_id": [f"{i:040x}" for i in range(len(rows))],
                     "row": list(range(len(rows)))})
    (tmp_path / "data").mkdir()
    pq.write_table(data, tmp_path / "data" / "part-0.parquet", row_group_size=4)
    applied = subprocess.run([OPTOUT, "exclusions", "apply", "--list", str(state),
                              "--trust", str(trust), str(tmp_path / "data" / "part-0.parquet"),
                              "--out", str(tmp_path / "clean"),
                              "--report", str(tmp_path / "report.json")],
                             capture_output=True, text=True, timeout=120)
    assert applied.returncode == 0, applied.stderr
    clean = pq.read_table(tmp_path / "clean" / "part-0.parquet")
    assert clean["row"].to_pylist() == [i for i, r in enumerate(rows) if not r[4]]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["list_version"] == 1 and report["totals"]["rows_removed"] == 5
    assert {e["rule"]["kind"]: e["rows"] for e in report["removed_by_rule"]} == {
        "owner": 2, "repository": 2, "file": 1}
