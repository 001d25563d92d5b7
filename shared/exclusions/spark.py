"""Apply an exclusion list to a Spark DataFrame with broadcast anti-joins (no Python UDF).

Pull and verify the list on the driver (``load_verified``), then::

    from shared.exclusions.spark import apply_exclusions
    clean = apply_exclusions(df, matcher, columns=Columns(host="host", owner="owner", ...))

Each rule kind becomes a small DataFrame of keys that Spark broadcasts to every executor and
left-anti-joins against; the big side is never shuffled. Host, owner and name are lower-cased
with Spark's ``lower`` (identical to Python's for the ASCII names forges allow). Privacy-mode
lists hash each candidate in the JVM with ``sha2(concat(salt, "<kind>:" || identifier))``,
still without a UDF. pyspark is imported lazily: it is the ``engines`` extra.
"""

from __future__ import annotations

from typing import Any

from shared.exclusions.apply import Columns
from shared.exclusions.format import Matcher

_SWH = "swh:1:cnt:"


def apply_exclusions(df: Any, matcher: Matcher, columns: Columns | None = None) -> Any:
    """Return ``df`` without the rows the list covers (the same rows ``optout apply`` drops)."""
    from pyspark.sql import functions as F

    columns = columns or Columns()
    spark = df.sparkSession
    kinds = matcher.kinds
    host = F.lower(F.col(columns.host)) if columns.host else F.lit(columns.default_host)
    if columns.repository:
        pattern = r"^([^/]+)/(.+)$"
        full = F.col(columns.repository)
        owner = F.lower(F.regexp_extract(full, pattern, 1))
        name = F.lower(F.regexp_extract(full, pattern, 2))
        owner = F.when(owner != "", owner)
        name = F.when(name != "", name)
    else:
        owner, name = F.lower(F.col(columns.owner)), F.lower(F.col(columns.name))
    # concat (not concat_ws) so that a null part gives a null key, which matches nothing.
    keys: dict[str, Any] = {"owner": F.concat(host, F.lit("/"), owner)}
    keys["repository"] = F.concat(keys["owner"], F.lit("/"), name)
    if "file" in kinds:
        keys["file"] = F.concat(keys["repository"], F.lit("/"), F.col(columns.path))
    if "content" in kinds:
        blob = F.lower(F.col(columns.content))
        keys["content"] = F.when(blob.startswith(_SWH), blob).otherwise(F.concat(F.lit(_SWH), blob))
    original = df.columns
    for kind, rules in _rule_keys(matcher).items():
        if not rules:
            continue
        key = keys[kind]
        if matcher.salt is not None:
            salted = F.concat(F.lit(bytes(matcher.salt)), F.encode(F.concat(F.lit(f"{kind}:"),
                                                                         key), "UTF-8"))
            key = F.sha2(salted, 256)
        column = f"__optout_{kind}"
        right = _key_frame(spark, column, rules)
        df = df.withColumn(column, key).join(F.broadcast(right), on=column, how="left_anti")
    return df.select(*original)


def _rule_keys(matcher: Matcher) -> dict[str, list[str]]:
    """Per kind, the strings a candidate's key must equal: identifiers, or hashes.

    Made from the list's columns: an identifier is ``format.identifier`` of the rule (its
    fields joined with '/'), the hash the rule's ``h``.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from shared.exclusions.matching import _column, _positions_by_kind

    fields = {"owner": ("host", "owner"), "repository": ("host", "owner", "name"),
              "file": ("host", "owner", "name", "path"), "content": ("swhid",)}
    out: dict[str, list[str]] = {}
    for kind, ids in _positions_by_kind(matcher.table).items():
        take = pa.array(ids)
        if matcher.salt is not None:
            out[kind] = _column(matcher.table, "h").take(take).to_pylist()
            continue
        parts = [_column(matcher.table, f).take(take) for f in fields[kind]]
        joined = parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, "/")
        out[kind] = joined.to_pylist()
    return out


def _key_frame(spark: Any, column: str, keys: list[str]) -> Any:
    """A one-column DataFrame of keys; through Arrow where pyspark takes a Table (4.0+)."""
    try:
        import pyarrow as pa

        return spark.createDataFrame(pa.table({column: pa.array(keys, pa.string())}))
    except (TypeError, ValueError, ImportError):  # pyspark 3.5: rows through py4j (slower)
        return spark.createDataFrame([(k,) for k in keys], f"{column} string")
