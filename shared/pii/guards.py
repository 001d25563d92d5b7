"""False-positive guards shared by the rules: placeholders, hashes, UUIDs, fake-looking values.

Each guard answers one question about a candidate value or its surroundings and is cheap: the
rules call them only on the rare spans that their patterns already matched.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections import Counter
from pathlib import PurePosixPath

_PLACEHOLDER_WORDS = frozenset(
    """
    password passwd pass pwd passphrase secret secrets token apikey api_key key value changeme
    changeit change_me changethis replaceme replace_me fixme todo tbd admin root user username
    default example sample test testing dummy fake mock foo bar baz qux quux spam eggs hunter2
    letmein qwerty abc abc123 123456 12345678 none null nil undefined empty true false yes no
    redacted removed hidden masked
    """.split()  # noqa: SIM905
)
_PLACEHOLDER_MARKERS = (
    "your_",
    "your-",
    "yourpass",
    "yoursecret",
    "yourtoken",
    "yourkey",
    "my_",
    "my-",
    "_here",
    "-here",
    "example",
    "placeholder",
    "dummy",
    "redacted",
    "changeme",
    "****",
    "....",
    "…",
    "<",
    "${",
    "{{",
    "%(",
    "$(",
    "process.env",
    "os.environ",
    "getenv",
)
_TEMPLATE = re.compile(r"^\$[A-Za-z_][A-Za-z0-9_]*$|^\{[A-Za-z0-9_.]*\}$|^%[A-Za-z0-9_]*%$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_HASH_CONTEXT = re.compile(
    rb"sha-?(?:1|224|256|384|512)|\bsha\b|md5|blake2|digest|checksum|hash|integrity|fingerprint"
    rb"|etag|commit|revision|\brev\b|crc32|hmac|nonce|salt|signature|\bsum\b|\bh1:",
)
_VERSION_CONTEXT = re.compile(
    rb"(?:version|\bver\b|release|build|revision|firmware|\bv)[\s\"':=(,_]*$"
    rb"|(?:==|>=|<=|~=|!=|\^)\s*$"
)
_LOCK_FILES = frozenset(
    {
        "package-lock.json",
        "npm-shrinkwrap.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "poetry.lock",
        "pipfile.lock",
        "pdm.lock",
        "uv.lock",
        "cargo.lock",
        "go.sum",
        "gemfile.lock",
        "composer.lock",
        "flake.lock",
        "packages.lock.json",
        "bun.lock",
    }
)
_FIXTURE_DIRS = frozenset(
    {"fixtures", "fixture", "__fixtures__", "testdata", "test_data", "test-data", "__mocks__"}
)
_TEST_DIRS = frozenset({"test", "tests", "spec", "specs", "__tests__", "testing"})
_FAKE_MARKERS = ("fake", "dummy", "example", "sample", "test", "mock", "xxxx", "invalid", "foo")


def is_placeholder(value: str) -> bool:
    """`your_api_key`, `xxx`, `<token>`, `changeme`, `${VAR}`, `%s`, `{name}`, `****`..."""
    lowered = value.lower().strip()
    if not lowered or lowered in _PLACEHOLDER_WORDS:
        return True
    if any(marker in lowered for marker in _PLACEHOLDER_MARKERS):
        return True
    if "%s" in value or "xxx" in value or "XXX" in value:  # case-sensitive: "xXx" is chance
        return True
    if _TEMPLATE.match(value):
        return True
    return is_repetitive(value)


def is_repetitive(value: str) -> bool:
    """`aaaaaaaa`, `12345678`, `abcdefgh`, `xXxXxX`: few distinct characters or runs of steps."""
    if len(value) < 4:
        return False
    if len(set(value.lower())) <= max(2, min(len(value) // 8, 6)):
        return True
    steps = sum(1 for a, b in zip(value, value[1:], strict=False) if ord(b) - ord(a) in (0, 1, -1))
    # Random digits step by 0 or +-1 three times in ten, random letters far less often.
    return steps >= (0.85 if value.isdigit() else 0.6) * (len(value) - 1)


def shannon_entropy(value: str) -> float:
    """Bits per character of the value's own character distribution."""
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def charset_size(value: str) -> int:
    """The size of the smallest usual alphabet the value is drawn from (hex, base36, base64...)."""
    if _HEX.match(value):
        return 16
    classes = sum(
        (
            any(c.islower() for c in value),
            any(c.isupper() for c in value),
            any(c.isdigit() for c in value),
        )
    )
    extra = any(not c.isalnum() for c in value)
    if classes >= 3 or extra:
        return 64
    return 36 if classes == 2 else 26


def looks_random(value: str, strictness: float = 0.8) -> bool:
    """Entropy close to what a random string of this length and alphabet has.

    The expectation is charset-aware and length-aware: the plug-in entropy of ``n`` random
    characters from an alphabet of ``k`` is about ``log2(k) - (k - 1) / (2 n ln 2)`` (and at
    most ``log2(n)``), so hex is held to less than base64 and short strings to less than long
    ones. ``strictness`` 1 asks for the expectation itself; each 0.1 below it allows 0.4 bits.
    """
    n = len(value)
    if n < 8:
        return False
    k = charset_size(value)
    expected = min(math.log2(k) - (k - 1) / (2 * n * math.log(2)), math.log2(n))
    return shannon_entropy(value) >= expected - (1 - strictness) * 4


def char_classes(value: str) -> int:
    return sum(
        (
            any(c.islower() for c in value),
            any(c.isupper() for c in value),
            any(c.isdigit() for c in value),
            any(not c.isalnum() for c in value),
        )
    )


def is_uuid(value: str) -> bool:
    return bool(_UUID.match(value))


def is_hex_digest(value: str) -> bool:
    """A hex string of a digest's length (MD5, SHA-1, SHA-224/256/384/512, git object ids)."""
    return len(value) in (32, 40, 56, 64, 96, 128) and bool(_HEX.match(value))


def in_hash_context(before: bytes) -> bool:
    """The text just before a value names a hash: ``sha256=``, ``"integrity":``, ``md5sum``..."""
    return bool(_HASH_CONTEXT.search(before.lower()))


def in_version_context(before: bytes) -> bool:
    """``version 1.2.3.4``, ``v1.2.3.4``, ``__version__ = "1.2.3.4"``, ``pkg>=1.2.3.4``."""
    return bool(_VERSION_CONTEXT.search(before.lower()))


def decodes_to_text(value: str) -> bool:
    """Base64 of readable text (test data, encoded messages) rather than of random bytes."""
    stripped = value.rstrip("=")
    if len(stripped) < 16:
        return False
    padded = stripped + "=" * (-len(stripped) % 4)
    try:
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        return False
    if not raw:
        return False
    printable = sum(1 for b in raw if 32 <= b < 127 or b in (9, 10, 13))
    return printable >= 0.85 * len(raw)


def is_lock_file(path: str) -> bool:
    return PurePosixPath(path.replace("\\", "/")).name.lower() in _LOCK_FILES


def is_fixture_path(path: str) -> bool:
    """Under ``tests/fixtures``, ``testdata``, ``__mocks__``... (where fake secrets live)."""
    parts = {p.lower() for p in PurePosixPath(path.replace("\\", "/")).parts[:-1]}
    return bool(parts & _FIXTURE_DIRS) or bool(parts & _TEST_DIRS and "data" in parts)


def is_test_path(path: str) -> bool:
    """Test code: under ``test/``/``tests/``/``spec/``, or named ``test_*``/``*_test.*``."""
    pure = PurePosixPath(path.replace("\\", "/"))
    name = pure.name.lower()
    if name.startswith("test_") or pure.stem.lower().endswith(("_test", "_spec", ".test")):
        return True
    return bool({p.lower() for p in pure.parts[:-1]} & _TEST_DIRS)


def is_obviously_fake(value: str) -> bool:
    """In test and fixture paths only: values that say they are fake, or too regular to be real."""
    lowered = value.lower()
    return any(m in lowered for m in _FAKE_MARKERS) or is_repetitive(value)
