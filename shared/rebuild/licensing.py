"""License scopes of a repository snapshot held in memory, judged by a policy.

The detection is ``shared.licenses``' own (license files, README sections, REUSE, manifests,
SPDX headers; a directory with license evidence of its own is a scope covering its subtree),
run over the snapshot's contents instead of a checkout on disk, so that the files judged are
exactly the files released. Evidence is cached per (blob, kind of file): the same MIT text in
ten thousand repositories is matched once.
"""

from __future__ import annotations

import posixpath
from dataclasses import replace

from shared.licenses import files
from shared.licenses.policy import Policy
from shared.licenses.scan import (
    MAX_FILES,
    RULES_VERSION,
    ScanResult,
    _alternatives,
    _Collector,
    _resolve_references,
    _scopes,
)
from shared.licenses.textmatch import TextMatcher, default_matcher

EvidenceCache = dict[tuple[str, str], list]


class _SnapshotCollector(_Collector):
    """``_Collector`` reading from a {path: bytes} mapping instead of the file system."""

    def __init__(self, contents: dict[str, bytes], ids: dict[str, str], matcher: TextMatcher,
                 cache: EvidenceCache):
        super().__init__("", matcher, MAX_FILES)
        self.contents, self.ids, self.cache = contents, ids, cache

    def walk(self) -> None:
        for rel in sorted(self.contents):
            directory, name = posixpath.split(rel)
            self.files_scanned += 1
            self._file(rel, rel, name, posixpath.basename(directory) == "LICENSES")

    def _text(self, full: str, rel: str, limit: int, detect) -> None:
        data = self.contents[full][:limit]
        if files.is_binary(data):
            self._skip("binary")
            return
        key = (self.ids[full], _category(posixpath.basename(rel)))
        found = self.cache.get(key)
        if found is None:
            found = [replace(e, path="") for e in detect(files.decode(data))]
            self.cache[key] = found
        self.evidence.extend(replace(e, path=rel) for e in found)

    def _manifest(self, full: str, rel: str, readers) -> None:
        data = self.contents[full][: files.MANIFEST_BYTES]
        if files.is_binary(data):
            self._skip("binary")
            return
        text = files.decode(data)
        field_reader, hint_reader = readers
        found = _alternatives(field_reader(text), rel, "manifest")
        if found is None and hint_reader is not None:
            found = _alternatives(hint_reader(text), rel, "classifier")
        if found is not None:
            self.evidence.append(found)


def _category(name: str) -> str:
    if files.is_license_file(name):
        return "notice_file" if files.is_notice_file(name) else "license_file"
    return "readme" if files.is_readme(name) else "headers"


def scan_snapshot(
    paths: list[str],
    contents: list[bytes],
    ids: list[str],
    policy: Policy,
    cache: EvidenceCache | None = None,
    matcher: TextMatcher | None = None,
) -> ScanResult:
    """Detect and judge the licenses of one repository snapshot (paths relative to its root)."""
    matcher = matcher or default_matcher()
    collector = _SnapshotCollector(dict(zip(paths, contents, strict=True)),
                                   dict(zip(paths, ids, strict=True)), matcher,
                                   cache if cache is not None else {})
    collector.walk()
    evidence = _resolve_references(collector.evidence)
    scopes = _scopes(evidence, policy)
    declared = scopes[0].expression
    verdict = policy.judge(declared)
    return ScanResult(
        declared=declared, verdict=verdict, admitted=policy.admits(verdict), policy=policy,
        scopes=tuple(scopes), evidence=tuple(sorted(evidence, key=lambda e: (e.path, e.line or 0))),
        detector=matcher.name, detector_version=f"{matcher.version}+rules.{RULES_VERSION}",
        files_scanned=collector.files_scanned, skipped=dict(collector.skipped),
    )


def detector_version(matcher: TextMatcher | None = None) -> str:
    matcher = matcher or default_matcher()
    return f"{matcher.name} {matcher.version}+rules.{RULES_VERSION}"
