"""Per-file stages: identity, content filters, vendored/generated, language, license verdict.

One repository snapshot becomes one Arrow table with a row per file (the ``SCAN_SCHEMA``).
A file that a stage drops keeps its row, with ``drop`` set to the stage's reason code, so
the changelog can say why a file is not released. The first reason wins, in this order:

``blob_id_mismatch`` (a table's blob id disagrees with the content), ``too_large``,
``binary`` (a NUL byte), ``not_utf8``, ``vendored``, ``generated``, ``unknown_language``,
``language_not_selected``, then ``license_<verdict>`` for a verdict the policy refuses.

Languages, vendored and generated files come from go-enry (the Go port of GitHub Linguist,
through the ``enry-python`` bindings), called with the path and the content, so Linguist's
filename, extension, shebang, modeline, heuristics and classifier strategies all apply.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata

import enry
import pyarrow as pa

from shared.licenses.policy import Policy
from shared.licenses.scan import ScanResult
from shared.rebuild.config import RebuildConfig
from shared.rebuild.identity import blob_sha1
from shared.rebuild.inputs import Snapshot
from shared.rebuild.licensing import EvidenceCache, scan_snapshot

SCAN_SCHEMA = pa.schema([
    ("host", pa.string()), ("owner", pa.string()), ("name", pa.string()),
    ("repo_key", pa.string()), ("path", pa.string()), ("content", pa.binary()),
    ("size", pa.int64()), ("blob_id", pa.string()), ("language", pa.string()),
    ("license_expression", pa.string()), ("license_type", pa.string()),
    ("license_scope", pa.string()), ("directory_swhid", pa.string()),
    ("revision", pa.string()), ("created", pa.int64()), ("stars", pa.int64()),
    ("drop", pa.string()),
])
REASONS = ("blob_id_mismatch", "too_large", "binary", "not_utf8", "vendored", "generated",
           "unknown_language", "language_not_selected")


def language_detector() -> str:
    return f"go-enry (enry-python {metadata.version('enry-python')})"


@dataclass
class StageClock:
    """Seconds spent per stage, summed over calls."""

    seconds: Counter = field(default_factory=Counter)

    def timed(self, stage: str, func: Callable, *args, **kwargs):
        start = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            self.seconds[stage] += time.perf_counter() - start


def _content_reason(data: bytes, config: RebuildConfig) -> str | None:
    if len(data) > config.max_file_bytes:
        return "too_large"
    if b"\x00" in data:
        return "binary"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "not_utf8"
    return None


def classify(path: str, data: bytes, config: RebuildConfig) -> tuple[str | None, str | None]:
    """(drop reason or None, language or None) for one file that passed the content checks."""
    if config.drop_vendored and enry.is_vendor(path):
        return "vendored", None
    if config.drop_generated and enry.is_generated(path, data):
        return "generated", None
    language = enry.get_language(path.rsplit("/", 1)[-1], data) or None
    if language is None:
        return ("unknown_language" if config.drop_unknown_language else None), None
    if config.languages and language not in config.languages:
        return "language_not_selected", language
    return None, language


def annotate(snapshot: Snapshot, config: RebuildConfig, policy: Policy,
             cache: EvidenceCache, clock: StageClock) -> pa.Table:
    """Run the per-file stages over one snapshot; return its rows in ``SCAN_SCHEMA``."""
    contents = snapshot.contents
    ids = clock.timed("identify", lambda: [blob_sha1(data) for data in contents])
    drops: list[str | None] = [None] * len(contents)
    languages: list[str | None] = [None] * len(contents)

    def filters() -> None:
        given = snapshot.given_ids or [None] * len(contents)
        for i, (path, data) in enumerate(zip(snapshot.paths, contents, strict=True)):
            if given[i] is not None and given[i] != ids[i]:
                drops[i] = "blob_id_mismatch"
                continue
            drops[i] = _content_reason(data, config)
            if drops[i] is None:
                drops[i], languages[i] = classify(path, data, config)

    clock.timed("classify", filters)
    scan: ScanResult = clock.timed(
        "license", scan_snapshot, snapshot.paths, contents, ids, policy, cache,
        where=f"{snapshot.source}: {snapshot.identity}")
    expressions, verdicts, scopes = [], [], []
    for i, path in enumerate(snapshot.paths):
        scope = scan.scope_for(path)
        expressions.append(scope.expression)
        verdicts.append(scope.verdict)
        scopes.append(scope.path)
        if drops[i] is None and not policy.admits(scope.verdict):
            drops[i] = f"license_{scope.verdict}"
    n = len(contents)
    ident = snapshot.identity
    return pa.table({
        "host": [ident.host] * n, "owner": [ident.owner] * n, "name": [ident.name] * n,
        "repo_key": [ident.key] * n, "path": snapshot.paths,
        "content": pa.array(contents, pa.binary()),
        "size": [len(data) for data in contents], "blob_id": ids, "language": languages,
        "license_expression": expressions, "license_type": verdicts, "license_scope": scopes,
        "directory_swhid": [snapshot.directory_swhid] * n, "revision": [snapshot.revision] * n,
        "created": [snapshot.created] * n, "stars": [snapshot.stars] * n, "drop": drops,
    }, schema=SCAN_SCHEMA)
