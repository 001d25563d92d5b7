"""The Spark form of the row-level stages releases what ``rebuild`` releases (exact dedup)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shared.exclusions.format import Matcher, build_body, repository_rule
from shared.rebuild import ExclusionList, RebuildConfig, discover, rebuild
from tests.shared.rebuild_corpus import GPL_NOTICE, MIT, module

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]


def test_spark_rows_match_the_local_rebuild(spark, tmp_path):
    from shared.rebuild.spark import rebuild_rows

    shared_code = module("shared")
    rows = [
        ("mit/lib", "LICENSE", MIT), ("mit/lib", "a.py", shared_code),
        ("mit/lib", "vendor/x/y.js", "var y = 1;\n"), ("mit/lib", "big.py", "x = 1\n" * 2000),
        ("mit/lib", "nul.py", "a\x00b"), ("mit/lib", "contrib/gpl/COPYING", GPL_NOTICE),
        ("mit/lib", "contrib/gpl/t.py", module("t")),
        ("gpl/app", "COPYING", GPL_NOTICE), ("gpl/app", "m.py", module("m")),
        ("bare/copy", "a.py", shared_code), ("bare/copy", "own.go", "package own\n"),
        ("gone/repo", "g.py", module("g")),
    ]
    table = pa.table({"repo_name": [r[0] for r in rows], "path": [r[1] for r in rows],
                      "content": [r[2] for r in rows]})
    pq.write_table(table, tmp_path / "in.parquet")
    matcher = Matcher(build_body([repository_rule("github.com", "gone", "repo")]))
    config = RebuildConfig(near_dedup=False, max_file_bytes=8000)
    rebuild(discover([tmp_path / "in.parquet"]), tmp_path / "local", "v", ExclusionList(
        matcher, 1, "0" * 64, "0" * 64), config=config)
    local = {(r["repo_key"], r["path"]): r["blob_id"] for r in pq.read_table(
        tmp_path / "local.private" / "ledger.parquet").to_pylist() if r["status"] == "released"}

    released = rebuild_rows(spark.read.parquet(str(tmp_path / "in.parquet")), matcher, config)
    plan = released._jdf.queryExecution().executedPlan().toString()
    assert "BroadcastHashJoin" in plan and "BatchEvalPython" not in plan
    found = {(f"{r['host']}/{r['owner']}/{r['name']}".lower(), r["path"]): r["blob_id"]
             for r in released.select("host", "owner", "name", "path", "blob_id").collect()}
    assert found == local
    assert ("github.com/mit/lib", "a.py") in found and ("github.com/bare/copy", "own.go") in found
