"""Full-text license matching with askalono's store, loaded once per process.

pyaskalono's only entry point, ``askalono.identify(text)``, rebuilds askalono's whole store on
every call: it zstd-decompresses and MessagePack-decodes the SPDX cache embedded in its
extension module (13 MB decoded, ~110 ms here), then matches. That fixed cost dominates. This
module reads the same embedded cache once, keeps the bigram sets in memory, and scores text
with askalono 0.5's own algorithm: its line normalisers and aggressive preprocessing, word
bigrams, and the Sørensen–Dice coefficient over bigram multisets. Scores and names agree with
``askalono.identify`` (checked in the tests); where the cache cannot be found (a pyaskalono
release that changes its layout) ``AskalonoMatcher`` falls back to ``identify`` per call.
"""

from __future__ import annotations

import bisect
import logging
import threading
import unicodedata
from collections import Counter
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Protocol

import regex

log = logging.getLogger(__name__)

CACHE_HEADER = b"askalono-04"  # askalono's store/cache.rs CACHE_VERSION
VARIANT_MARGIN = 0.1  # see AskalonoStore._best
VARIANT_SUPPORT = 0.2


@dataclass(frozen=True)
class TextMatch:
    """A license found in a text: an SPDX id (or expression) and a score in [0, 1]."""

    name: str
    score: float
    kind: str = "original"  # "original" text, license "header", or "alternate"
    aliases: tuple[str, ...] = ()
    lines: tuple[int, int] | None = None  # 0-based [start, end) when found inside the text


class TextMatcher(Protocol):
    """What the scanner needs from a full-text detector."""

    name: str
    version: str

    def identify(self, text: str, threshold: float = 0.8) -> list[TextMatch]: ...


# --- askalono 0.5 preprocessing (src/preproc.rs), rule for rule -------------------------------

_JUNK = regex.compile(r"[^\w\s\p{P}]+")
_URL = regex.compile(r"https?://\S+")
# askalono writes this class as `(?x)[ \t\p{Zs} \\ / \| \x2044 ]+`; Rust reads `\x2044` as a
# space followed by "44", so the digit 4 is turned into a space. Its store is built that way,
# and matching must do the same.
_HSPACE = regex.compile(r"[ \t\p{Zs}\\/|4]+")
_QUOTES = regex.compile(r"[\"'\p{Pi}\p{Pf}]+")
_DASH = regex.compile(r"\p{Pd}+")
_OPEN = regex.compile(r"\p{Ps}+")
_CLOSE = regex.compile(r"\p{Pe}+")
_UNDER = regex.compile(r"\p{Pc}+")
_COPY_SIGN = regex.compile(r"[©Ⓒⓒ]")
_VSPACE = regex.compile(r"[\r\n\v\f]")
_MANY_NEWLINES = regex.compile(r"\n{3,}")
_PUNCT = regex.compile(r"[^\w\s]+")
_TITLE = regex.compile(r"^.*license( version \S+)?( copyright.*)?\n\n")
_COPYRIGHT = regex.compile(
    r"""
    ((\n\n|\A\n*)(^\x20*copyright.*?$)+\n\n)
    |(\A.*copyright.*$)
    |(^copyright(\s+(c|\d+))+\x20.*?$)
    """,
    regex.MULTILINE | regex.VERBOSE,
)
_SPACES = regex.compile(r"\s+")


def normalize_lines(text: str) -> list[str]:
    """askalono's per-line normalisers, applied to the whole text at once (none crosses a
    newline), then each line trimmed."""
    return [line.strip() for line in _normalize(text).split("\n")]


def normalize_line(line: str) -> str:
    """Apply askalono's per-line normalisers (unicode, junk, URLs, spacing, punctuation)."""
    return _normalize(line).strip()


def _normalize(text: str) -> str:
    out = unicodedata.normalize("NFC", text)
    out = _JUNK.sub("", out)
    out = _URL.sub("http://blackboxed/url", out)
    out = _HSPACE.sub(" ", out)
    out = _QUOTES.sub("'", out)
    out = _DASH.sub("-", out)
    out = _OPEN.sub("(", out)
    out = _CLOSE.sub(")", out)
    out = _UNDER.sub("_", out)
    out = _COPY_SIGN.sub("(c)", out)
    return out


def _common_prefix(first: str, second: str) -> str:
    size = 0
    for a, b in zip(first, second, strict=False):
        if a != b:
            break
        size += 1
    return first[:size].strip()


def _remove_common_tokens(text: str) -> str:
    """Drop a prefix shared by at least 80% of lines (comment markers like ``# `` or ``//``)."""
    lines = text.split("\n")
    counts: dict[str, int] = {}
    for line, following in zip(lines, lines[1:], strict=False):
        common = _common_prefix(line, following)
        if len(common.encode()) > 3:
            counts[common] = counts.get(common, 1) + 1
    if not counts:
        return text
    most_common = max(counts, key=counts.__getitem__)
    total = sum(v for k, v in counts.items() if k.startswith(most_common))
    if total < int(0.8 * len(lines)):
        return text
    cut = len(most_common)
    return "\n".join(
        (line[cut:] if line.startswith(most_common) else line).strip() for line in lines
    )


def preprocess(text: str) -> str:
    """Normalise a text the way askalono does before it counts bigrams."""
    return aggressive("\n".join(normalize_lines(text)))


def aggressive(normalized: str) -> str:
    """askalono's aggressive pass over already normalised lines (joined with newlines)."""
    out = _remove_common_tokens(normalized)
    out = _VSPACE.sub("\n", out)
    out = _MANY_NEWLINES.sub("\n\n", out)
    out = _PUNCT.sub("", out)
    out = out.lower()
    out = _TITLE.sub("", out)
    out = _COPYRIGHT.sub("\n\n", out)
    out = _SPACES.sub(" ", out)
    return out.strip()


def bigrams(processed: str) -> Counter[str]:
    """Count the word bigrams of a preprocessed text, as askalono's ``NgramSet`` does."""
    words = processed.split(" ")
    return Counter(f"{a} {b}" for a, b in zip(words, words[1:], strict=False))


# --- the store --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    name: str
    kind: str
    grams: frozenset[int]  # one id per (bigram, occurrence): set intersection = multiset min

    @property
    def size(self) -> int:
        return len(self.grams)


class AskalonoStore:
    """askalono's SPDX store as bigram multisets, with a pruned best-match search."""

    def __init__(self, entries: list[_Entry], aliases: dict[str, tuple[str, ...]], vocab):
        self._entries = sorted(entries, key=lambda e: e.size)
        self._sizes = [e.size for e in self._entries]
        self._aliases = aliases
        self._vocab: dict[tuple[str, int], int] = vocab

    @property
    def license_count(self) -> int:
        return len(self._aliases)

    @classmethod
    def from_cache(cls, cache: bytes) -> AskalonoStore:
        """Build from askalono's cache bytes: header, then a zstd frame of MessagePack."""
        import msgpack
        import zstandard

        if not cache.startswith(CACHE_HEADER):
            raise ValueError("not an askalono-04 cache")
        raw = zstandard.ZstdDecompressor().decompressobj().decompress(cache[len(CACHE_HEADER) :])
        (licenses,) = msgpack.unpackb(raw, strict_map_key=False, raw=False)
        vocab: dict[tuple[str, int], int] = {}
        entries: list[_Entry] = []
        aliases: dict[str, tuple[str, ...]] = {}
        for name, (original, names, headers, alternates) in licenses.items():
            aliases[name] = tuple(names)
            entries.append(_Entry(name, "original", _intern(original[0], vocab)))
            for kind, datas in (("header", headers), ("alternate", alternates)):
                for data in datas:
                    entries.append(_Entry(name, kind, _intern(data[0], vocab)))
        return cls(entries, aliases, vocab)

    def analyze(self, text: str) -> TextMatch | None:
        """Return the best-scoring entry (askalono's ``Store::analyze``), or None if no bigrams."""
        found = self._best(preprocess(text))
        return self._match(found[0], found[1]) if found else None

    def identify(self, text: str, threshold: float = 0.8, max_passes: int = 3) -> list[TextMatch]:
        """Find the licenses in a text, in the spirit of askalono's ScanStrategy with optimize.

        A whole-text match at or above ``threshold`` that explains nearly all of the text is
        the answer. Otherwise the best candidate's line range is located (askalono's
        ``optimize_bounds``); if that range scores at or above ``threshold`` it is kept,
        whited out, and the rest is searched again, so a file that concatenates two licenses,
        or pastes one under other prose, yields each of them.
        """
        lines = normalize_lines(text)
        found: list[TextMatch] = []
        for _ in range(max_passes):
            candidate = self._best(aggressive("\n".join(lines)), prefer_base=True)
            if candidate is None:
                break
            entry, score, size = candidate
            unexplained = size - entry.size
            if score >= threshold and unexplained <= max(50, entry.size // 10):
                found.append(self._match(entry, score))
                break
            # No line range can beat 2|Q&E| / (|Q&E| + |E|): skip a search that cannot succeed.
            shared = score * (size + entry.size) / 2
            if 2 * shared / (shared + entry.size) < threshold:
                if score >= threshold:
                    found.append(self._match(entry, score))
                break
            (start, end), located = self._optimize_bounds(lines, entry)
            if located < threshold:
                if score >= threshold:
                    found.append(self._match(entry, score))
                break
            found.append(self._match(entry, located, (start, end)))
            lines[start:end] = [""] * (end - start)
        return [self._generic(m) for m in found]

    def _best(self, processed: str, prefer_base: bool = False) -> tuple[_Entry, float, int] | None:
        """The best entry for a text, its score and the text's bigram count.

        With ``prefer_base``, a variant that wins only on text it shares with a close
        runner-up is passed over for that runner-up when the text holds less than 20% of the
        winner's own bigrams and more of the runner-up's: an Apache-2.0 text without its
        appendix scores higher against Pixar (Apache-2.0 minus the appendix, plus a clause)
        than against Apache-2.0, yet holds none of Pixar's own words.
        """
        query, size = self._query(processed)
        if not size:
            return None
        ranked: list[tuple[float, _Entry]] = []  # the two best entries with different names
        margin = VARIANT_MARGIN if prefer_base else 0.0
        # Dice <= 2*min(a, b)/(a + b): visit entries by that bound and stop once none can win
        # (nor, with prefer_base, come within the margin of the best as a runner-up).
        for bound, entry in self._by_bound(size):
            if ranked and bound < ranked[0][0] - margin:
                break
            if len(ranked) == 2 and bound < ranked[1][0]:
                break
            score = 2.0 * len(query & entry.grams) / (size + entry.size)
            ranked = _top_two(ranked, score, entry)
        if not ranked:
            return None
        (best_score, best), runner = ranked[0], ranked[1] if len(ranked) > 1 else None
        if prefer_base and runner is not None and best_score - runner[0] <= VARIANT_MARGIN:
            own = best.grams - runner[1].grams
            others = runner[1].grams - best.grams
            support = len(query & own) / len(own) if own else 1.0
            runner_support = len(query & others) / len(others) if others else 0.0
            if len(own) >= 10 and support < VARIANT_SUPPORT and runner_support > support:
                return runner[1], runner[0], size
        return best, best_score, size

    def _query(self, processed: str) -> tuple[frozenset[int], int]:
        counts = bigrams(processed)
        query = frozenset(
            ident
            for gram, count in counts.items()
            for k in range(count)
            if (ident := self._vocab.get((gram, k))) is not None
        )
        return query, sum(counts.values())

    def _match(self, entry: _Entry, score: float, lines=None) -> TextMatch:
        return TextMatch(entry.name, score, entry.kind, self._aliases.get(entry.name, ()), lines)

    def _generic(self, match: TextMatch) -> TextMatch:
        """Name a group of identical texts by its most generic id, not askalono's first key.

        SPDX gives GFDL-1.2-only, -or-later, -invariants-only... one text; askalono keeps
        the first file name. The shortest id (GPL-2.0-only, MPL-2.0, OFL-1.1, GFDL-1.2-only)
        is the one that claims least; "or later" is decided by a notice, elsewhere.
        """
        group = (match.name, *match.aliases)
        name = min(group, key=lambda n: (len(n), n))
        aliases = tuple(n for n in group if n != name)
        return TextMatch(name, match.score, match.kind, aliases, match.lines)

    def _optimize_bounds(self, lines: list[str], entry: _Entry) -> tuple[tuple[int, int], float]:
        """Port of askalono's ``TextData::optimize_bounds``: best end line, then best start."""

        def view_score(start: int, end: int) -> float:
            return self.dice(aggressive("\n".join(lines[start:end])), entry)

        end, _ = _ternary_search(lambda e: view_score(0, e), 0, len(lines))
        start, score = _ternary_search(lambda s: view_score(s, end), 0, end)
        return (start, end), score

    def dice(self, processed: str, entry: _Entry) -> float:
        """askalono's score of a preprocessed text against one store entry."""
        query, size = self._query(processed)
        if not size or not entry.size:
            return 0.0
        return 2.0 * len(query & entry.grams) / (size + entry.size)

    def _by_bound(self, size: int):
        """Entries by decreasing Dice bound: walk out from the query's size both ways."""
        sizes = self._sizes
        right = bisect.bisect_left(sizes, size)
        left = right - 1
        while left >= 0 or right < len(sizes):
            low = 2.0 * sizes[left] / (size + sizes[left]) if left >= 0 else -1.0
            high = 2.0 * size / (size + sizes[right]) if right < len(sizes) else -1.0
            if low >= high:
                yield low, self._entries[left]
                left -= 1
            else:
                yield high, self._entries[right]
                right += 1


def _top_two(ranked, score: float, entry: _Entry):
    """Insert (score, entry) into the best two, keeping one entry per license name."""
    candidates = [(s, e) for s, e in ranked if e.name != entry.name or s >= score]
    if all(e.name != entry.name for _s, e in candidates):
        candidates.append((score, entry))
    candidates.sort(key=lambda item: item[0], reverse=True)
    return candidates[:2]


def _ternary_search(score, left: int, right: int) -> tuple[int, float]:
    memo: dict[int, float] = {}

    def check(index: int) -> float:
        if index not in memo:
            memo[index] = score(index)
        return memo[index]

    while right - left > 3:
        low = (left * 2 + right) // 3
        high = (left + right * 2) // 3
        if check(low) > check(high):
            right = high - 1
        else:
            left = low + 1
    best = (0, 0.0)
    for index in range(left, right + 1):
        value = check(index)
        if value >= best[1]:
            best = (index, value)
    return best


def _intern(ngram_set, vocab: dict[tuple[str, int], int]) -> frozenset[int]:
    grams, _n, _size = ngram_set
    ids = []
    for gram, count in grams.items():
        for k in range(count):
            ids.append(vocab.setdefault((gram, k), len(vocab)))
    return frozenset(ids)


def embedded_cache() -> bytes:
    """Read the store cache that pyaskalono compiles into its extension module."""
    import askalono

    for path in Path(askalono.__file__).parent.glob("askalono*.so"):
        blob = path.read_bytes()
        start = blob.find(CACHE_HEADER)
        if start >= 0:
            return blob[start:]
    raise FileNotFoundError("no askalono cache in the pyaskalono extension module")


class AskalonoMatcher:
    """Match texts against askalono's SPDX store, loaded on first use and kept."""

    name = "askalono"

    def __init__(self) -> None:
        self._store: AskalonoStore | None = None
        self._fallback = False
        self._lock = threading.Lock()
        try:
            self.version = metadata.version("pyaskalono")
        except metadata.PackageNotFoundError:
            self.version = "unknown"

    @property
    def store(self) -> AskalonoStore | None:
        """The loaded store, or None when only the slow ``identify`` path is available."""
        with self._lock:
            if self._store is None and not self._fallback:
                try:
                    self._store = AskalonoStore.from_cache(embedded_cache())
                except (OSError, ValueError, ImportError) as exc:
                    log.warning("askalono store not loadable (%s); using identify()", exc)
                    self._fallback = True
            return self._store

    def match(self, text: str) -> TextMatch | None:
        """The best whole-text match (what ``askalono.identify`` returns), or None."""
        store = self.store
        if store is not None:
            return store.analyze(text)
        import askalono

        found = askalono.identify(text)
        return TextMatch(found.name, float(found.score)) if found.score > 0 else None

    def identify(self, text: str, threshold: float = 0.8) -> list[TextMatch]:
        """Every license found in a text at or above ``threshold`` (see ``AskalonoStore``)."""
        store = self.store
        if store is not None:
            return store.identify(text, threshold)
        found = self.match(text)
        return [found] if found is not None and found.score >= threshold else []


_default: AskalonoMatcher | None = None
_default_lock = threading.Lock()


def default_matcher() -> AskalonoMatcher:
    """The process-wide askalono matcher (its store is loaded once, on first match)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = AskalonoMatcher()
        return _default
