"""Scan text, bytes, files and directory trees: streaming windows with overlap, exact offsets.

A file is read in blocks and decoded incrementally as UTF-8 (invalid bytes become U+FFFD, one
character each, so offsets index that decoded text). The text is cut into windows of
``chunk_size`` characters, each scanned with ``overlap`` characters of context on both sides; a
window keeps only the findings that start inside its own ``chunk_size`` characters, so a value
straddling a window edge is found whole, exactly once, as long as it is shorter than
``overlap`` (the longest rule, an unterminated private key, reaches 16 KiB; the default overlap is
64 Ki characters). Files whose first 8 KiB hold a NUL byte are binary and skipped.
"""

from __future__ import annotations

import bisect
import codecs
import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from shared.pii import credentials, personal, providers
from shared.pii.engine import KeywordFilter
from shared.pii.findings import DEV_FINGERPRINT_KEY, Finding, fingerprint, mask
from shared.pii.guards import is_obviously_fake
from shared.pii.rules import Candidate, FileInfo, Rule

DEFAULT_RULES: tuple[Rule, ...] = (
    *credentials.RULES,
    *providers.RULES,
    *personal.RULES,
)
DEFAULT_CHUNK = 1 << 20
DEFAULT_OVERLAP = 1 << 16
SNIFF_BYTES = 8192
SKIPPED_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__"})


@dataclass(slots=True)
class _Hit:
    start: int  # character offsets in the whole decoded text
    end: int
    line: int
    column: int
    rule: Rule
    tier: int
    fingerprint: str
    masked: str


class BinaryFile(Exception):
    """The content is binary (a NUL byte in its first 8 KiB): not scanned."""


class Scanner:
    """Detects PII and secrets; one instance is reusable and holds no per-file state.

    Args:
        key: the fingerprint key (bytes). None uses `DEV_FINGERPRINT_KEY`, public and for
            development only.
        sensitivity: 1 reports tier 1 only, 2 (default) tiers 1-2, 3 everything.
        rules: the rules to run (default: all).
        chunk_size, overlap: the streaming window, in characters.
        backend: "re2" or "re" (default: re2 when google-re2 imports).
    """

    def __init__(
        self,
        *,
        key: bytes | None = None,
        sensitivity: int = 2,
        rules: Iterable[Rule] | None = None,
        chunk_size: int = DEFAULT_CHUNK,
        overlap: int = DEFAULT_OVERLAP,
        backend: str | None = None,
    ) -> None:
        if sensitivity not in (1, 2, 3):
            raise ValueError(f"sensitivity must be 1, 2 or 3, not {sensitivity!r}")
        if chunk_size < 1 or overlap < 0:
            raise ValueError("chunk_size must be positive and overlap not negative")
        self.key = key if key is not None else DEV_FINGERPRINT_KEY
        self.sensitivity = sensitivity
        self.rules = tuple(rules if rules is not None else DEFAULT_RULES)
        self.chunk_size = chunk_size
        self.overlap = overlap
        self.backend = backend
        for rule in self.rules:
            rule.compiled(backend)  # compile once, up front
        self._keywords = KeywordFilter(
            [(rule.keywords, rule.ignore_case) for rule in self.rules], backend
        )

    # --- entry points -------------------------------------------------------------------------

    def scan_text(self, text: str, path: str = "<text>") -> list[Finding]:
        """Scan a string; its content hash is the SHA-256 of its UTF-8 encoding."""
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        return self._findings(self._scan_pieces([text], FileInfo.for_path(path)), path, digest)

    def scan_bytes(self, data: bytes, path: str = "<bytes>") -> list[Finding]:
        """Scan file content; binary content (a NUL in the first 8 KiB) gives no findings."""
        if b"\x00" in data[:SNIFF_BYTES]:
            return []
        text = data.decode("utf-8", "replace")
        hits = self._scan_pieces([text], FileInfo.for_path(path))
        return self._findings(hits, path, hashlib.sha256(data).hexdigest())

    def scan_file(self, path: str | os.PathLike, display_path: str | None = None) -> list[Finding]:
        """Stream one file from disk; binary files give no findings.

        Raises:
            OSError: the file cannot be read.
        """
        shown = display_path if display_path is not None else os.fspath(path)
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            try:
                hits = self._scan_pieces(self._read(handle, digest), FileInfo.for_path(shown))
            except BinaryFile:
                return []
        return self._findings(hits, shown, digest.hexdigest())

    def scan_paths(self, paths: Iterable[str | os.PathLike]) -> Iterator[Finding]:
        """Scan files and directory trees (sorted, symlinks and VCS folders skipped)."""
        for path in iter_files(paths):
            yield from self.scan_file(path)

    # --- streaming ----------------------------------------------------------------------------

    def _read(self, handle, digest) -> Iterator[str]:
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        first = True
        while block := handle.read(self.chunk_size):
            digest.update(block)
            if first and b"\x00" in block[:SNIFF_BYTES]:
                raise BinaryFile
            first = False
            if text := decoder.decode(block):
                yield text
        if tail := decoder.decode(b"", final=True):
            yield tail

    def _scan_pieces(self, pieces: Iterable[str], info: FileInfo) -> list[_Hit]:
        chunk, overlap = self.chunk_size, self.overlap
        buf, buf_off, owned_from = "", 0, 0
        lines_before, last_newline = 0, -1  # before buf_off
        hits: list[_Hit] = []
        source = iter(pieces)
        exhausted = False
        while True:
            while not exhausted and len(buf) - (owned_from - buf_off) < chunk + overlap:
                piece = next(source, None)
                exhausted = piece is None
                buf += piece or ""
            rel = owned_from - buf_off
            final = exhausted and len(buf) - rel <= chunk + overlap
            window = buf if final else buf[: rel + chunk + overlap]
            owned_to = len(window) if final else rel + chunk
            for hit in self._scan_window(window, rel, owned_to, info):
                hits.append(self._place(hit, window, buf_off, lines_before, last_newline))
            if final:
                return hits
            owned_from += chunk
            drop = owned_from - overlap - buf_off
            if drop > 0:
                dropped = buf[:drop]
                lines_before += dropped.count("\n")
                newline = dropped.rfind("\n")
                if newline >= 0:
                    last_newline = buf_off + newline
                buf, buf_off = buf[drop:], buf_off + drop

    @staticmethod
    def _place(hit: _Hit, window: str, buf_off: int, lines_before: int, last_newline: int):
        """Turn window-relative offsets into absolute offsets, line and column."""
        rel = hit.start
        line = lines_before + window.count("\n", 0, rel) + 1
        newline = window.rfind("\n", 0, rel)
        column = rel - newline if newline >= 0 else buf_off + rel - last_newline
        hit.start, hit.end = buf_off + rel, buf_off + hit.end
        hit.line, hit.column = line, column
        return hit

    def _scan_window(self, window: str, owned_from: int, owned_to: int, info: FileInfo):
        data = window.encode("utf-8", "replace")
        ascii_only = len(data) == len(window)
        if ascii_only:
            b_from, b_to = owned_from, owned_to
        else:
            b_from = len(window[:owned_from].encode("utf-8", "replace"))
            b_to = b_from + len(window[owned_from:owned_to].encode("utf-8", "replace"))
        wanted = self._keywords.wanted(data)
        raw: list[tuple[int, int, Rule, int]] = []
        for index, rule in enumerate(self.rules):
            if index not in wanted or (info.lock_file and rule.hashlike):
                continue
            for match in rule.compiled(self.backend).finditer(data):
                span = rule.value_span(match)
                if span is None or not b_from <= span[0] < b_to:
                    continue
                candidate = Candidate(data, span[0], span[1], match, info)
                tier = rule.validate(candidate)
                if tier is None or tier > self.sensitivity:
                    continue
                if info.fixture and rule.secret and _fake_in_fixture(rule, candidate):
                    continue
                raw.append((candidate.start, candidate.end, rule, tier))
        kept = _resolve_overlaps(raw)
        to_char = (lambda b: b) if ascii_only else _byte_to_char_map(data, kept)
        hits = []
        for start, end, rule, tier in kept:
            value = window[to_char(start) : to_char(end)]
            hits.append(
                _Hit(
                    start=to_char(start),
                    end=to_char(end),
                    line=0,
                    column=0,
                    rule=rule,
                    tier=tier,
                    fingerprint=fingerprint(self.key, rule.id, value),
                    masked=mask(rule.kind, value, _visible_prefix(rule, value)),
                )
            )
        return hits

    @staticmethod
    def _findings(hits: list[_Hit], path: str, digest: str) -> list[Finding]:
        hits.sort(key=lambda h: (h.start, h.end, h.rule.id))
        return [
            Finding(
                path=path,
                content_sha256=digest,
                start=h.start,
                end=h.end,
                line=h.line,
                column=h.column,
                kind=h.rule.kind,
                rule=h.rule.id,
                tier=h.tier,
                fingerprint=h.fingerprint,
                masked=h.masked,
            )
            for h in hits
        ]


def _fake_in_fixture(rule: Rule, candidate: Candidate) -> bool:
    """Test code and fixtures: drop fake-looking secrets, but never real key material."""
    return rule.kind != "private_key" and is_obviously_fake(candidate.value)


def _resolve_overlaps(raw: list[tuple[int, int, Rule, int]]) -> list[tuple[int, int, Rule, int]]:
    """Keep one finding per stretch of text: the most specific rule, then the longest span."""
    raw.sort(key=lambda r: (-r[2].priority, r[0] - r[1], r[0]))
    starts: list[int] = []
    ends: list[int] = []
    kept = []
    for item in raw:
        start, end = item[0], item[1]
        index = bisect.bisect_right(starts, start)
        if index and ends[index - 1] > start:
            continue
        if index < len(starts) and starts[index] < end:
            continue
        starts.insert(index, start)
        ends.insert(index, end)
        kept.append(item)
    kept.sort(key=lambda r: r[0])
    return kept


def _byte_to_char_map(data: bytes, kept: list[tuple[int, int, Rule, int]]):
    """Byte offsets (all on character boundaries) to character offsets, decoding once."""
    offsets = sorted({offset for item in kept for offset in item[:2]})
    table, previous, chars = {}, 0, 0
    for offset in offsets:
        chars += len(data[previous:offset].decode("utf-8", "replace"))
        table[offset], previous = chars, offset
    return table.__getitem__


def _visible_prefix(rule: Rule, value: str) -> str:
    """The token's own prefix (``gho_``, ``rk_live_``...) for the masked preview."""
    if not rule.prefix or rule.kind != "key":
        return ""
    if value.startswith(rule.prefix):
        return rule.prefix
    if rule.prefix.isalnum():
        return value[: len(rule.prefix)]
    head = value[: len(rule.prefix) + 1]
    cut = max(head.rfind("_"), head.rfind("-"), head.rfind("."))
    return head[: cut + 1] if cut > 0 else ""


def iter_files(paths: Iterable[str | os.PathLike]) -> Iterator[str]:
    """Regular files under the given paths, in a stable order; a missing path raises.

    Raises:
        FileNotFoundError: a given path does not exist.
    """
    for path in paths:
        path = os.fspath(path)
        if os.path.isfile(path):
            yield path
        elif os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
                for name in sorted(files):
                    full = os.path.join(root, name)
                    if not os.path.islink(full) and os.path.isfile(full):
                        yield full
        else:
            raise FileNotFoundError(path)


def reveal_value(finding: Finding, content: bytes | str, key: bytes | None = None) -> str:
    """Read a finding's raw value back from its file's content: the reviewer's reveal path.

    Checks that the content is the one scanned (SHA-256) and that the value still has the
    finding's fingerprint, so a stale or tampered finding never reveals the wrong text.

    Raises:
        ValueError: the content or the value does not match the finding.
    """
    if isinstance(content, str):
        raw, text = content.encode("utf-8", "surrogatepass"), content
    else:
        raw, text = content, content.decode("utf-8", "replace")
    if hashlib.sha256(raw).hexdigest() != finding.content_sha256:
        raise ValueError("content does not match the scanned file (SHA-256 differs)")
    value = text[finding.start : finding.end]
    expected = fingerprint(key if key is not None else DEV_FINGERPRINT_KEY, finding.rule, value)
    if expected != finding.fingerprint:
        raise ValueError("value does not match the finding's fingerprint (wrong key?)")
    return value
