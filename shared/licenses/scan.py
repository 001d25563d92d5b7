"""Scan a repository checkout for licenses, scope them per directory, and judge the result.

Evidence comes from license files (full-text matching, then notice rules), README license
sections, REUSE ``LICENSES/`` files, package manifests, and, as a fallback, trove classifiers
and ``SPDX-License-Identifier:`` headers. A directory with license evidence of its own is a
scope, and its license covers its subtree; the root scope's expression is the repository's
``declared`` license, so a vendored library's license never leaks into it.
"""

from __future__ import annotations

import os
import posixpath
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from shared.licenses import expressions, files, manifests, notices, readme
from shared.licenses.notices import NOTICE_SCORE
from shared.licenses.policy import DEFAULT_POLICY, Policy
from shared.licenses.textmatch import TextMatch, TextMatcher, default_matcher

RULES_VERSION = "1"
MATCH_THRESHOLD = 0.8
MAX_FILES = 100_000
SKIP_DIRS = frozenset({".git", ".hg", ".svn", ".bzr", "__pycache__", ".tox", ".mypy_cache"})
VENDOR_DIRS = frozenset(
    {
        "vendor",
        "vendors",
        "vendored",
        "_vendor",
        "third_party",
        "third-party",
        "thirdparty",
        "3rdparty",
        "node_modules",
        "bower_components",
        "external",
        "externals",
        "extern",
        "deps",
    }
)
# Kinds of evidence: the first group defines a scope, the second only fills in for it.
PRIMARY_KINDS = frozenset({"license_file", "notice_file", "readme", "manifest", "reuse"})
FALLBACK_KINDS = frozenset({"classifier", "spdx_header"})


@dataclass(frozen=True)
class Evidence:
    """One file's say on the license, with the detector that read it and its confidence."""

    path: str  # relative to the scanned directory, '/'-separated
    expression: str
    score: float
    detector: str  # askalono, scancode, notice-rules, manifest, classifier, reuse, spdx-header
    kind: str  # license_file, notice_file, readme, manifest, classifier, reuse, spdx_header
    line: int | None = None
    unknown: tuple[str, ...] = ()  # input tokens that became LicenseRef-*
    aliases: tuple[str, ...] = ()  # ids with the same text as the match (GPL-2.0-or-later)
    refers: tuple[str, ...] = ()  # sibling license files this text defers to, and how
    operator: str = "AND"

    @property
    def directory(self) -> str:
        if self.kind == "reuse":  # LICENSES/MIT.txt speaks for the directory above LICENSES/
            return posixpath.dirname(posixpath.dirname(self.path))
        return posixpath.dirname(self.path)

    def to_json(self) -> dict:
        data = {
            "path": self.path,
            "expression": self.expression,
            "score": round(self.score, 4),
            "detector": self.detector,
            "kind": self.kind,
        }
        if self.line is not None:
            data["line"] = self.line
        if self.unknown:
            data["unknown"] = list(self.unknown)
        return data


# Evidence per (file id, kind of reading): files with the same id are read once (scan_files).
EvidenceCache = dict[tuple[str, str], list[Evidence]]


@dataclass(frozen=True)
class LicenseScope:
    """A directory whose own license covers its subtree ("" is the repository root)."""

    path: str
    expression: str | None
    verdict: str
    vendored: bool
    evidence: tuple[Evidence, ...] = ()

    def to_json(self) -> dict:
        return {
            "path": self.path,
            "expression": self.expression,
            "verdict": self.verdict,
            "vendored": self.vendored,
            # Headers can number thousands: list the files that declare, count the rest.
            "evidence": sorted({e.path for e in self.evidence if e.kind in PRIMARY_KINDS}),
            "other_evidence": sum(1 for e in self.evidence if e.kind not in PRIMARY_KINDS),
        }


@dataclass(frozen=True)
class ScanResult:
    """What ``scan_repository`` found, judged under one policy."""

    declared: str | None
    verdict: str
    admitted: bool
    policy: Policy
    scopes: tuple[LicenseScope, ...]
    evidence: tuple[Evidence, ...]
    detector: str
    detector_version: str
    files_scanned: int = 0
    truncated: bool = False
    skipped: dict[str, int] = field(default_factory=dict)

    def scope_for(self, path: str) -> LicenseScope:
        """The scope whose license covers a file (the deepest enclosing scope directory)."""
        path = path.strip("/")
        best = self.scopes[0]
        for scope in self.scopes:
            prefix = scope.path + "/"
            if (scope.path == "" or path == scope.path or path.startswith(prefix)) and len(
                scope.path
            ) >= len(best.path):
                best = scope
        return best

    def verdict_for(self, path: str) -> str:
        """The verdict that applies to one file of the repository."""
        return self.scope_for(path).verdict

    def to_json(self) -> dict:
        """The ``optout licenses scan --json`` object (see the README for the format)."""
        return {
            "declared": self.declared,
            "verdict": self.verdict,
            "admitted": self.admitted,
            "policy": {"name": self.policy.name, "version": self.policy.version},
            "detector": {"name": self.detector, "version": self.detector_version},
            "evidence": [e.to_json() for e in self.evidence],
            "scopes": [s.to_json() for s in self.scopes],
            "files_scanned": self.files_scanned,
            "truncated": self.truncated,
            "skipped": dict(self.skipped),
        }


def scan_repository(
    path: str | os.PathLike[str],
    policy: Policy = DEFAULT_POLICY,
    matcher: TextMatcher | None = None,
    max_files: int = MAX_FILES,
) -> ScanResult:
    """Detect and judge the licenses of a directory (a repository checkout).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        NotADirectoryError: ``path`` is not a directory.
    """
    root = os.fspath(path)
    if not os.path.exists(root):
        raise FileNotFoundError(root)
    if not os.path.isdir(root):
        raise NotADirectoryError(root)
    matcher = matcher or default_matcher()
    collector = _Collector(root, matcher, max_files)
    collector.walk()
    return _judged(collector, policy)


def scan_files(
    contents: Mapping[str, bytes],
    policy: Policy = DEFAULT_POLICY,
    matcher: TextMatcher | None = None,
    max_files: int | None = MAX_FILES,
    *,
    ids: Mapping[str, str] | None = None,
    cache: EvidenceCache | None = None,
) -> ScanResult:
    """Detect and judge the licenses of files held in memory: ``{relative path: content}``.

    The result is the one ``scan_repository`` gives for a checkout holding exactly these
    files ('/'-separated paths; ``max_files`` None: no limit). With ``ids`` (a stable id per
    path, such as its git blob id) and a ``cache`` kept across calls, a file whose id was
    read before as the same kind of file (license, notice, README, headers) is not read again.

    Raises:
        ValueError: a path is empty, absolute, or has an empty, ``.`` or ``..`` part.
    """
    for rel in contents:
        _check_relative(rel)
    collector = _MemoryCollector(contents, matcher or default_matcher(), max_files, ids, cache)
    collector.walk()
    return _judged(collector, policy)


def _check_relative(rel: str) -> None:
    if not rel or "\x00" in rel or any(p in ("", ".", "..") for p in rel.split("/")):
        raise ValueError(f"not a relative file path: {rel!r}")


def _judged(collector: _Collector, policy: Policy) -> ScanResult:
    matcher = collector.matcher
    evidence = _resolve_references(collector.evidence)
    scopes = _scopes(evidence, policy)
    declared = scopes[0].expression
    verdict = policy.judge(declared)
    return ScanResult(
        declared=declared,
        verdict=verdict,
        admitted=policy.admits(verdict),
        policy=policy,
        scopes=tuple(scopes),
        evidence=tuple(sorted(evidence, key=lambda e: (e.path, e.line or 0))),
        detector=matcher.name,
        detector_version=f"{matcher.version}+rules.{RULES_VERSION}",
        files_scanned=collector.files_scanned,
        truncated=collector.truncated,
        skipped=dict(collector.skipped),
    )


def detect_text(
    text: str, path: str = "LICENSE", matcher: TextMatcher | None = None, kind: str | None = None
) -> list[Evidence]:
    """Evidence from one text, read as the kind of file its name says (LICENSE, README...)."""
    matcher = matcher or default_matcher()
    name = posixpath.basename(path)
    if kind is None:
        if files.is_readme(name):
            kind = "readme"
        elif files.is_notice_file(name):
            kind = "notice_file"
        else:
            kind = "license_file"
    if kind == "readme":
        found: list[Evidence] = []
        for line, body in readme.license_sections(text):
            found.extend(_from_section(body, path, line, matcher))
        return found
    return _from_license_text(text, path, matcher, kind)


def _evidence(raw: str, path: str, score: float, detector: str, kind: str, **extra) -> Evidence:
    normalized = expressions.normalize(raw)
    return Evidence(
        path, normalized.expression, score, detector, kind, unknown=normalized.unknown, **extra
    )


def _from_matches(
    matches: list[TextMatch], text: str, path: str, detector: str, kind: str, line=None
) -> Evidence:
    names = [m.name for m in matches]
    raw = " AND ".join(f"({n})" for n in names)
    if len(matches) > 1:
        # A notice before the texts ("dual-licensed under MIT or Apache-2.0") says how the
        # licenses combine; only trust it if it names exactly the licenses found.
        first = min((m.lines[0] for m in matches if m.lines), default=0)
        preamble = "\n".join(text.split("\n")[:first]) if first else text[:1500]
        notice = notices.find_notice(preamble)
        if notice and set(expressions.license_keys(notice.expression)) == set(names):
            raw = notice.expression
    elif matches[0].aliases:
        # GPL-2.0-only and GPL-2.0-or-later share a text; a notice in it can tell them apart.
        notice = notices.find_notice(text)
        if notice and notice.expression in matches[0].aliases:
            raw = notice.expression
    aliases = tuple(a for m in matches for a in m.aliases)
    score = min(m.score for m in matches)
    return _evidence(raw, path, score, detector, kind, line=line, aliases=aliases)


def _from_license_text(text: str, path: str, matcher: TextMatcher, kind: str) -> list[Evidence]:
    if not text.strip():
        return []
    matches = matcher.identify(text, MATCH_THRESHOLD)
    if matches:
        return [_from_matches(matches, text, path, matcher.name, kind)]
    # A license file's own title beats a notice found further down its text.
    notice = notices.find_title(text) if kind == "license_file" else None
    notice = notice or notices.find_notice(text, bare_names=len(text.strip()) <= 300)
    if notice:
        return [_evidence(notice.expression, path, notice.score, "notice-rules", kind)]
    if kind == "notice_file":
        return []  # attributions without a license name say nothing about the license
    refers = tuple(dict.fromkeys(_FILE_REFERENCE.findall(text[: notices.MAX_NOTICE_CHARS])))
    if refers:
        # "under the terms of either of the licenses in LICENSE.APACHE or LICENSE.BSD":
        # resolved against the sibling files once the whole directory is read.
        operator = "OR" if re.search(r"\beither\b|\bor\b", text[:2000], re.I) else "AND"
        return [
            Evidence(
                path,
                expressions.UNIDENTIFIED,
                0.0,
                "notice-rules",
                kind,
                refers=refers,
                operator=operator,
            )
        ]
    best = matcher.match(text) if hasattr(matcher, "match") else None
    score = best.score if best else 0.0
    return [Evidence(path, expressions.UNIDENTIFIED, score, matcher.name, kind)]


def _from_section(body: str, path: str, line: int, matcher: TextMatcher) -> list[Evidence]:
    if len(body) >= 600:
        matches = matcher.identify(body, MATCH_THRESHOLD)
        if matches:
            return [_from_matches(matches, body, path, matcher.name, "readme", line=line)]
    notice = notices.find_title(body) or notices.find_notice(body, bare_names=True)
    if notice:
        return [
            _evidence(notice.expression, path, notice.score, "notice-rules", "readme", line=line)
        ]
    return []


_FILE_REFERENCE = re.compile(
    r"\b((?:LICEN[CS]E|COPYING)[-_.][A-Za-z0-9][A-Za-z0-9.-]*[A-Za-z0-9]"
    r"|[A-Za-z0-9.-]+[-_.]LICEN[CS]E(?:\.(?:txt|md|rst))?)\b"
)


def _resolve_references(evidence: list[Evidence]) -> list[Evidence]:
    """Give texts that defer to sibling license files the combined license of those files."""
    by_path = {e.path: e for e in evidence}
    resolved = []
    for item in evidence:
        if item.refers:
            folder = posixpath.dirname(item.path)
            targets = [by_path.get(posixpath.join(folder, name)) for name in item.refers]
            if targets and all(t is not None and not t.refers for t in targets):
                expression = expressions.combine([t.expression for t in targets], item.operator)
                item = replace(item, expression=expression or item.expression, score=NOTICE_SCORE)
        resolved.append(item)
    return resolved


class _Collector:
    """Walks a checkout once and gathers evidence from every kind of file."""

    def __init__(self, root: str, matcher: TextMatcher, max_files: int | None):
        self.root = root
        self.matcher = matcher
        self.max_files = sys.maxsize if max_files is None else max_files
        self.evidence: list[Evidence] = []
        self.files_scanned = 0
        self.truncated = False
        self.skipped: dict[str, int] = {}

    def walk(self) -> None:
        for directory, dirnames, filenames in os.walk(self.root, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            relative = os.path.relpath(directory, self.root).replace(os.sep, "/")
            relative = "" if relative == "." else relative
            in_reuse_dir = posixpath.basename(relative) == "LICENSES"
            for name in sorted(filenames):
                if self.files_scanned >= self.max_files:
                    self.truncated = True
                    return
                full = os.path.join(directory, name)
                if os.path.islink(full):
                    self._skip("symlink")
                    continue
                self.files_scanned += 1
                rel = posixpath.join(relative, name) if relative else name
                self._file(full, rel, name, in_reuse_dir)

    def _skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def _file(self, full: str, rel: str, name: str, in_reuse_dir: bool) -> None:
        if in_reuse_dir:
            stem = name.rsplit(".", 1)[0] if "." in name else name
            self.evidence.append(_evidence(stem, rel, 1.0, "reuse", "reuse"))
            return
        if files.likely_binary_name(name):
            self._skip("binary")
            return
        readers = manifests.readers_for(name)
        if readers is not None:
            self._manifest(full, rel, readers)
        elif files.is_license_file(name):
            kind = "notice_file" if files.is_notice_file(name) else "license_file"
            self._text(
                full,
                rel,
                kind,
                files.LICENSE_FILE_BYTES,
                lambda t: _from_license_text(t, rel, self.matcher, kind),
            )
        elif files.is_readme(name):
            self._text(
                full,
                rel,
                "readme",
                files.LICENSE_FILE_BYTES,
                lambda t: detect_text(t, rel, self.matcher, "readme"),
            )
        else:
            self._text(full, rel, "headers", files.HEADER_BYTES, lambda t: self._headers(t, rel))

    def _read(self, full: str, limit: int) -> bytes | None:
        return files.read_prefix(full, limit)

    def _text(self, full: str, rel: str, kind: str, limit: int, detect) -> None:
        data = self._read(full, limit)
        if data is None:
            self._skip("unreadable")
        elif files.is_binary(data):
            self._skip("binary")
        else:
            self.evidence.extend(self._detected(full, rel, kind, data, detect))

    def _detected(self, full: str, rel: str, kind: str, data: bytes, detect) -> list[Evidence]:
        return detect(files.decode(data))

    def _headers(self, text: str, rel: str) -> list[Evidence]:
        return [
            _evidence(value, rel, 1.0, "spdx-header", "spdx_header", line=number)
            for number, value in files.spdx_identifiers(text)
        ]

    def _manifest(self, full: str, rel: str, readers) -> None:
        data = self._read(full, files.MANIFEST_BYTES)
        if data is None or files.is_binary(data):
            self._skip("unreadable")
            return
        text = files.decode(data)
        field_reader, hint_reader = readers
        found = _alternatives(field_reader(text), rel, "manifest")
        if found is None and hint_reader is not None:
            found = _alternatives(hint_reader(text), rel, "classifier")
        if found is not None:
            self.evidence.append(found)


class _MemoryCollector(_Collector):
    """A ``_Collector`` over ``{path: bytes}``, visiting files in ``os.walk``'s order."""

    def __init__(self, contents: Mapping[str, bytes], matcher: TextMatcher,
                 max_files: int | None, ids: Mapping[str, str] | None,
                 cache: EvidenceCache | None):
        super().__init__("", matcher, max_files)
        self.contents, self.ids = contents, ids
        self.cache: EvidenceCache = cache if cache is not None else {}

    def walk(self) -> None:
        for rel in sorted(self.contents, key=_walk_order):
            *folders, name = rel.split("/")
            if SKIP_DIRS.intersection(folders):
                continue
            if self.files_scanned >= self.max_files:
                self.truncated = True
                return
            self.files_scanned += 1
            self._file(rel, rel, name, bool(folders) and folders[-1] == "LICENSES")

    def _read(self, full: str, limit: int) -> bytes | None:
        return self.contents[full][:limit]

    def _detected(self, full: str, rel: str, kind: str, data: bytes, detect) -> list[Evidence]:
        if self.ids is None:
            return detect(files.decode(data))
        key = (self.ids[full], kind)
        found = self.cache.get(key)
        if found is None:  # kept without a path: the same text elsewhere gets its own
            found = self.cache[key] = [replace(e, path="") for e in detect(files.decode(data))]
        return [replace(e, path=rel) for e in found]


def _walk_order(rel: str) -> list[tuple[int, str]]:
    """A directory's files (sorted) before its subdirectories (sorted), as ``walk`` goes."""
    *folders, name = rel.split("/")
    return [(1, folder) for folder in folders] + [(0, name)]


def _alternatives(values: list[str], rel: str, kind: str) -> Evidence | None:
    """One piece of evidence for a manifest's license alternatives, joined with OR."""
    parts = [expressions.normalize(v) for v in values if v.strip()]
    if not parts:
        return None
    expression = expressions.combine([p.expression for p in parts], "OR")
    unknown = tuple(token for p in parts for token in p.unknown)
    score = 1.0 if kind == "manifest" else 0.8
    return Evidence(rel, expression or "", score, kind, kind, unknown=unknown)


def _scopes(evidence: list[Evidence], policy: Policy) -> list[LicenseScope]:
    """Group evidence into scopes (root first) and work out each scope's expression."""
    directories = {""} | {e.directory for e in evidence if e.kind in PRIMARY_KINDS}
    grouped: dict[str, list[Evidence]] = {d: [] for d in directories}
    for item in evidence:
        grouped[_enclosing(item.directory, directories)].append(item)
    scopes = []
    for directory in sorted(directories, key=lambda d: (d != "", d)):
        items = grouped[directory]
        expression = scope_expression(items, directory)
        scopes.append(
            LicenseScope(
                path=directory,
                expression=expression,
                verdict=policy.judge(expression),
                vendored=bool(VENDOR_DIRS.intersection(directory.split("/"))),
                evidence=tuple(items),
            )
        )
    return scopes


def _enclosing(directory: str, scopes: Iterable[str]) -> str:
    while directory not in scopes:
        directory = posixpath.dirname(directory)
    return directory


def scope_expression(items: list[Evidence], directory: str) -> str | None:
    """The license of one scope: its own declarations, plus license texts they do not cover.

    Declarations (manifests, notices, REUSE) say how licenses combine, so a text that only
    repeats a declared license (LICENSE-MIT beside ``license = "MIT OR Apache-2.0"``) adds
    nothing. Classifiers and SPDX headers count only when the scope declares nothing else.
    """
    own = [e for e in items if e.kind in PRIMARY_KINDS and e.directory == directory]
    if not own:
        own = [e for e in items if e.kind in FALLBACK_KINDS]
    texts = [e for e in own if e.detector not in ("manifest", "notice-rules", "reuse")]
    declarations = [e for e in own if e not in texts]
    declared_keys = {k for e in declarations for k in expressions.license_keys(e.expression)}
    kept = [e.expression for e in declarations]
    for text in texts:
        keys = expressions.license_keys(text.expression)
        # GPL-2.0-only and GPL-2.0-or-later share one text: "or later" lives in the notice.
        covered = all(k in declared_keys for k in keys) or (
            len(keys) == 1 and any(a in declared_keys for a in text.aliases)
        )
        if not covered:
            kept.append(text.expression)
    return expressions.combine(kept, "AND")
