"""A detection rule: keywords that must occur, one compiled pattern, and a validator that tiers.

A rule runs on a window of UTF-8 bytes only when one of its keywords occurs in it (a substring
test, case-insensitive when the rule says so); its pattern then proposes candidates and its
validator returns the candidate's tier (1 high ... 3 low) or None to drop it. Validators may
narrow the candidate's span (``start``/``end``), which is the value reported and redacted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from shared.pii.engine import Match, Pattern, compile_pattern

_CONFIG_SUFFIXES = frozenset(
    {
        ".env", ".ini", ".cfg", ".conf", ".config", ".properties", ".yaml", ".yml", ".toml",
        ".sh", ".bash", ".zsh", ".envrc", ".netrc", ".pgpass", ".npmrc", ".pypirc", ".txt",
        ".md", ".rst", ".tf", ".tfvars", ".hcl", ".service", ".dockerfile",
    }
)  # fmt: skip
_CODE_SUFFIXES = frozenset(
    {
        ".py", ".pyi", ".pyx", ".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx", ".java", ".kt",
        ".go", ".rs", ".rb", ".php", ".c", ".h", ".cc", ".cpp", ".hpp", ".cs", ".swift",
        ".scala", ".m", ".mm", ".lua", ".pl", ".pm", ".r", ".jl", ".dart", ".ex", ".exs",
        ".erl", ".hs", ".ml", ".clj", ".groovy", ".vue", ".svelte", ".sql", ".ipynb",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class FileInfo:
    """What the rules may know about the file a window comes from."""

    path: str
    lock_file: bool = False
    fixture: bool = False  # test code or test data: obviously fake secrets are dropped
    config_like: bool = False
    code_like: bool = False

    @classmethod
    def for_path(cls, path: str) -> FileInfo:
        from shared.pii.guards import is_fixture_path, is_lock_file, is_test_path

        name = path.replace("\\", "/").rsplit("/", 1)[-1].lower()
        suffix = "." + name.rsplit(".", 1)[1] if "." in name.lstrip(".") else ""
        config = (
            suffix in _CONFIG_SUFFIXES
            or name.startswith(".env")
            or name in {"dockerfile", "env", "credentials", "config"}
        )
        return cls(
            path=path,
            lock_file=is_lock_file(path),
            fixture=is_fixture_path(path) or is_test_path(path),
            config_like=config,
            code_like=suffix in _CODE_SUFFIXES,
        )


@dataclass(slots=True)
class Candidate:
    """A proposed value: its byte span in the window, the match, and the file it is in."""

    data: bytes
    start: int
    end: int
    match: Match
    file: FileInfo

    @property
    def value(self) -> str:
        return self.data[self.start : self.end].decode("utf-8", "replace")

    def before(self, n: int) -> bytes:
        return self.data[max(0, self.start - n) : self.start]

    def after(self, n: int) -> bytes:
        return self.data[self.end : self.end + n]

    def char_before(self) -> bytes:
        return self.data[self.start - 1 : self.start] if self.start else b""

    def char_after(self) -> bytes:
        return self.data[self.end : self.end + 1]

    def line_before(self) -> bytes:
        """The text from the start of the value's line up to the value."""
        newline = self.data.rfind(b"\n", 0, self.start)
        return self.data[newline + 1 : self.start]


Validator = Callable[[Candidate], "int | None"]


@dataclass(frozen=True)
class Rule:
    """One detector. ``groups`` lists the pattern groups that may hold the value (0 = whole).

    The pattern runs on a window only when one of ``keywords`` occurs in it (compared
    case-insensitively when ``ignore_case``); a rule without keywords always runs.
    """

    id: str
    kind: str
    pattern: str
    validate: Validator
    keywords: tuple[bytes, ...] = ()
    ignore_case: bool = False
    groups: tuple[int, ...] = (0,)
    priority: int = 50
    prefix: str = ""
    hashlike: bool = False  # skipped in lock files, where digests are the content
    secret: bool = True  # fixture paths drop obviously fake values of secret rules
    _compiled: dict = field(default_factory=dict, compare=False, repr=False)

    def compiled(self, backend: str | None = None) -> Pattern:
        key = backend or "default"
        if key not in self._compiled:
            self._compiled[key] = compile_pattern(self.pattern, backend)
        return self._compiled[key]

    def value_span(self, match: Match) -> tuple[int, int] | None:
        for group in self.groups:
            start = match.start(group)
            if start >= 0:
                return start, match.end(group)
        return None


ALNUM = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
TOKEN_CHARS = ALNUM | frozenset(b"_-")


def bounded(candidate: Candidate, chars: frozenset[int] = TOKEN_CHARS) -> bool:
    """The value is not glued to more token characters on either side."""
    data, start, end = candidate.data, candidate.start, candidate.end
    if start and data[start - 1] in chars:
        return False
    return not (end < len(data) and data[end] in chars)
