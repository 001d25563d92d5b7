"""The rebuild's row-level stages as Spark DataFrame operations (pyspark, the engines extra).

    from shared.rebuild.spark import rebuild_rows
    rows = spark.read.parquet("s3://bucket/stack/")        # repo_name or owner/name, path, content
    released = rebuild_rows(rows, matcher)                  # one row per released file

* blob ids (``swh:1:cnt``) are computed in the JVM: ``sha1("blob <n>\\0" || content)``;
* files over the size limit and files with a NUL byte are dropped by column expressions, so
  they never reach a Python worker;
* the rest of annotation (go-enry languages, vendored and generated files, license scopes
  judged by the policy) runs per repository with ``groupBy(...).applyInArrow``, the same
  ``annotate`` function as ``optout rebuild`` on one Arrow table per repository: no row-at-a-
  time UDF, and license scopes see the whole repository;
* the exclusion list is ``shared.exclusions.spark.apply_exclusions`` (broadcast anti-joins);
* exact duplicates keep the best-ranked copy with a window over the blob id, ranked as in
  ``dedup``. Near-duplicate clustering is a global step: run it with ``optout rebuild`` or the
  datatrove ``ClusterSelect`` step on the output.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from shared.exclusions.apply import Columns
from shared.exclusions.format import Matcher
from shared.licenses.policy import DEFAULT_POLICY, Policy
from shared.rebuild.annotate import SCAN_SCHEMA, StageClock, annotate
from shared.rebuild.config import RebuildConfig
from shared.rebuild.inputs import Snapshot, make_identity

_GROUP = ("host", "owner", "name")


def with_identity(df: Any, default_host: str = "github.com") -> Any:
    """Normalise The Stack's shape: host, owner, name, path, binary content, blob_id."""
    from pyspark.sql import functions as F

    if "repo_name" in df.columns:
        df = (df.withColumn("owner", F.regexp_extract("repo_name", r"^(.+)/[^/]+$", 1))
                .withColumn("name", F.regexp_extract("repo_name", r"/([^/]+)$", 1)))
    if "host" not in df.columns:
        df = df.withColumn("host", F.lit(default_host))
    content = F.col("content").cast("binary")
    header = F.concat(F.lit(b"blob "), F.encode(F.octet_length(content).cast("string"),
                                                  "UTF-8"), F.lit(b"\x00"))
    return df.select(F.lower("host").alias("host"), "owner", "name", "path",
                     content.alias("content"), F.sha1(F.concat(header, content)).alias("blob_id"))


def content_filters(df: Any, config: RebuildConfig) -> Any:
    """Drop files over the size limit or holding a NUL byte (JVM expressions only)."""
    from pyspark.sql import functions as F

    # Decoding keeps a NUL byte as U+0000 (invalid sequences become U+FFFD, never NUL).
    has_nul = F.instr(F.col("content").cast("string"), "\x00") > 0
    return df.filter((F.octet_length("content") <= config.max_file_bytes) & ~has_nul)


def annotate_repositories(df: Any, config: RebuildConfig | None = None,
                          policy: Policy = DEFAULT_POLICY) -> Any:
    """Run ``annotate`` on each repository's files (one Arrow table per group)."""
    config = config or RebuildConfig()

    def per_repository(table: pa.Table) -> pa.Table:
        first = table.slice(0, 1).to_pylist()[0]
        snapshot = Snapshot(make_identity(first["host"], first["owner"], first["name"],
                                          "spark"), table["path"].to_pylist(),
                            table["content"].to_pylist(), "spark")
        return annotate(snapshot, config, policy, {}, StageClock())

    schema = ", ".join(f"{f.name} {_spark_type(f.type)}" for f in SCAN_SCHEMA)
    return df.groupBy(*_GROUP).applyInArrow(per_repository, schema)


def _spark_type(kind: pa.DataType) -> str:
    return {pa.string(): "string", pa.binary(): "binary", pa.int64(): "bigint"}[kind]


def exact_dedup(df: Any) -> Any:
    """Keep the best-ranked copy of every blob (license, stars, creation, then names)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    license_rank = (F.when(F.col("license_type") == "permissive", 0)
                    .when(F.col("license_type") == "no_license", 1).otherwise(9))
    order = Window.partitionBy("blob_id").orderBy(
        license_rank, F.coalesce(-F.col("stars"), F.lit(0)),
        F.coalesce(F.col("created"), F.lit(2**62)), "host", "owner", "name", "path")
    ranked = df.withColumn("__rank", F.row_number().over(order))
    return ranked.filter(F.col("__rank") == 1).drop("__rank")


def rebuild_rows(df: Any, matcher: Matcher, config: RebuildConfig | None = None,
                 policy: Policy = DEFAULT_POLICY) -> Any:
    """Identity, filters, annotation, the exclusion list and exact dedup, as one DataFrame."""
    from pyspark.sql import functions as F

    from shared.exclusions.spark import apply_exclusions

    config = config or RebuildConfig()
    rows = content_filters(with_identity(df, config.default_host), config)
    annotated = annotate_repositories(rows, config, policy).filter(F.col("drop").isNull())
    allowed = apply_exclusions(annotated, matcher, Columns())
    return exact_dedup(allowed)
