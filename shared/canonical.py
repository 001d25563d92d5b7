"""Canonical JSON (RFC 8785, JCS) for audit-log entries and other signed or hashed records.

Entries are hashed into the audit log forever, so their bytes must be reproducible by any
verifier in any language. Beyond JCS itself this module refuses:

* floats, even integral ones such as ``1.0``: JCS prints numbers as ECMAScript does, which
  implementations get subtly wrong, and ``1.0`` would come back as the integer ``1``. Record
  amounts as integers or strings.
* integers outside the I-JSON range ±(2**53 - 1), which other parsers read as floats.
* non-string object keys, lone surrogates, and any type JSON does not have (``rfc8785``).

``load_canonical`` parses bytes and insists that they are already canonical, so a stored entry
can be checked without ever re-serialising it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import rfc8785


class CanonicalJSONError(ValueError):
    """A value that has no canonical JSON form here, or bytes that are not canonical JSON."""


def canonical_json(value: Any) -> bytes:
    """Return the RFC 8785 serialisation of ``value``."""
    _refuse_floats(value)
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, RecursionError) as error:
        raise CanonicalJSONError(str(error)) from None
    except UnicodeEncodeError:  # a lone surrogate in a key: rfc8785 sorts keys as UTF-16
        raise CanonicalJSONError("input contains non-UTF-8 codepoints") from None


def _refuse_floats(value: Any) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float):
            raise CanonicalJSONError(f"floats are not allowed in canonical JSON: {item!r}")
        if isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise CanonicalJSONError("duplicate object key")
    return result


def _no_float(text: str) -> Any:
    raise CanonicalJSONError(f"floats are not allowed in canonical JSON: {text}")


def load_canonical(data: bytes) -> Any:
    """Parse canonical JSON, refusing bytes that are not exactly ``canonical_json`` output."""
    try:
        value = json.loads(
            data.decode("utf-8"),
            object_pairs_hook=_no_duplicate_keys,
            parse_float=_no_float,
            parse_constant=_no_float,
        )
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise CanonicalJSONError(f"not JSON: {error}") from None
    if canonical_json(value) != data:
        raise CanonicalJSONError("JSON is not in canonical form (RFC 8785)")
    return value
