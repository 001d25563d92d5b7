"""The Spark path drops exactly the rows ``apply`` drops, with broadcast joins, in local mode."""

from __future__ import annotations

import pytest

from shared.exclusions.apply import BatchMatcher, Columns
from shared.exclusions.format import Matcher, build_body, new_salt
from tests.shared.test_exclusions_apply import ROWS, RULES, kept, table

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]


@pytest.mark.parametrize("salt", [None, new_salt()], ids=["plain", "privacy"])
def test_spark_removes_exactly_the_covered_rows(spark, salt):
    from shared.exclusions.spark import apply_exclusions

    matcher = Matcher(build_body(RULES, salt=salt), salt)
    df = spark.createDataFrame(table().to_pylist())
    clean = apply_exclusions(df, matcher)
    plan = clean._jdf.queryExecution().executedPlan().toString()
    assert "BroadcastHashJoin" in plan and "BatchEvalPython" not in plan
    assert sorted(r["content"] for r in clean.collect()) == sorted(kept())
    assert clean.columns == df.columns


def test_spark_agrees_with_apply_on_a_repository_column(spark):
    from shared.exclusions.spark import apply_exclusions

    matcher = Matcher(build_body(RULES))
    rows = [{"repo": f"{r[1]}/{r[2]}" if r[1] else None, "path": r[3], "blob_id": r[4],
             "n": i} for i, r in enumerate(ROWS) if r[0].lower() == "github.com"]
    columns = Columns(host=None, default_host="github.com", repository="repo")
    clean = apply_exclusions(spark.createDataFrame(rows), matcher, columns)
    import pyarrow as pa

    ids = BatchMatcher(matcher, columns).rule_ids(pa.Table.from_pylist(rows))
    assert sorted(r["n"] for r in clean.collect()) == [
        row["n"] for row, i in zip(rows, ids, strict=True) if i < 0]
