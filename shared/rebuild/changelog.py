"""The changelog of a release against the previous one, built from the two ledgers.

A ledger has one row per input file with its ``status``: ``released`` or the reason it is
not (``excluded_repository``, ``duplicate``, ``license_non_permissive``, ...), and a
``detail`` (the released copy for duplicates). Files are keyed by (repository, path).

* a file **added** says why: ``new`` (not in the previous inputs), ``promoted`` (it was a
  duplicate and its cluster's released copy left), or ``was_<reason>`` (a policy change);
* a file **removed** says the reason it is not released now, or ``not_in_inputs``;
* a file **modified** kept its path with another blob;
* a repository is added or removed when its first file arrives or its last one leaves; a
  removed repository counts what became of the files it had released.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict

import pyarrow as pa

LEDGER_SCHEMA = pa.schema([
    ("host", pa.string()), ("owner", pa.string()), ("name", pa.string()),
    ("repo_key", pa.string()), ("path", pa.string()), ("blob_id", pa.string()),
    ("language", pa.string()), ("license_type", pa.string()), ("cluster_id", pa.string()),
    ("status", pa.string()), ("detail", pa.string()),
])
DUPLICATES = ("duplicate", "near_duplicate")


def _index(ledger: pa.Table) -> dict[tuple[str, str], dict]:
    columns = ["host", "owner", "name", "repo_key", "path", "blob_id", "status", "detail"]
    return {(row["repo_key"], row["path"]): row for row in ledger.select(columns).to_pylist()}


def _repository(row: dict) -> str:
    return f"{row['host']}/{row['owner']}/{row['name']}"


def changelog(previous: pa.Table | None, current: pa.Table, previous_name: str | None,
              name: str) -> dict:
    """Compare two ledgers (``previous`` None: everything released is new)."""
    before = _index(previous) if previous is not None else {}
    after = _index(current)
    was = {k for k, r in before.items() if r["status"] == "released"}
    now = {k for k, r in after.items() if r["status"] == "released"}
    added, removed, modified = [], [], []
    for key in sorted(now - was):
        row, old = after[key], before.get(key)
        why = "new" if old is None else (
            "promoted" if old["status"] in DUPLICATES else f"was_{old['status']}")
        added.append(_entry(row, why))
    for key in sorted(was - now):
        row = after.get(key)
        entry = _entry(before[key], row["status"] if row else "not_in_inputs")
        if row and row["detail"]:
            entry["detail"] = row["detail"]
        removed.append(entry)
    for key in sorted(was & now):
        if before[key]["blob_id"] != after[key]["blob_id"]:
            entry = _entry(after[key], "modified")
            entry["previous_blob_id"] = before[key]["blob_id"]
            modified.append(entry)
    return {
        "format": "optout-changelog v1",
        "from": previous_name,
        "to": name,
        "repositories": _repositories(before, after, was, now),
        "files": {"added": added, "removed": removed, "modified": modified},
        "counts": {
            "files_added": len(added), "files_removed": len(removed),
            "files_modified": len(modified),
            "added_by_reason": dict(sorted(Counter(e["why"] for e in added).items())),
            "removed_by_reason": dict(sorted(Counter(e["why"] for e in removed).items())),
        },
    }


def _entry(row: dict, why: str) -> dict:
    return {"repository": _repository(row), "path": row["path"], "blob_id": row["blob_id"],
            "why": why}


def _repositories(before, after, was, now) -> dict:
    def released_repos(keys, index):
        out = {}
        for key in keys:
            out.setdefault(key[0], _repository(index[key]))
        return out

    old, new = released_repos(was, before), released_repos(now, after)
    reasons: dict[str, Counter] = defaultdict(Counter)  # what became of its released files
    for key in was:
        if key[0] not in new:
            reasons[key[0]][after[key]["status"] if key in after else "not_in_inputs"] += 1
    files = Counter(key[0] for key in now)
    added = [{"repository": new[k], "files": files[k]} for k in sorted(set(new) - set(old))]
    removed = [{"repository": old[k],
                "why": dict(sorted(reasons[k].items()))}
               for k in sorted(set(old) - set(new))]
    return {"added": added, "removed": removed}


def changelog_json(log: dict, depth: int = 0) -> str:
    """The changelog as JSON with one file or repository entry per line, keys sorted.

    Each line is written by ``json``'s C encoder; ``indent=`` would switch to the pure-Python
    one, which took several seconds for 200k files.
    """
    pad, inner = " " * depth, " " * (depth + 1)
    if isinstance(log, dict) and any(isinstance(v, dict | list) for v in log.values()):
        items = [f"{inner}{json.dumps(k)}: {changelog_json(v, depth + 1)}"
                 for k, v in sorted(log.items())]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(log, list) and log:
        lines = [inner + json.dumps(v, sort_keys=True) for v in log]
        return "[\n" + ",\n".join(lines) + f"\n{pad}]"
    return json.dumps(log, sort_keys=True)
