"""SPDX license expressions: strict parsing, repair of common spellings, and combination.

Every expression that leaves this module was parsed by ``license-expression`` against the SPDX
license list it ships. Ids it does not know are never passed through: a free-form name that
we recognise ("Apache 2.0", "GPLv3+") becomes its SPDX id, a deprecated id (``GPL-2.0+``)
becomes the current one, and anything else becomes ``LicenseRef-<sanitised>``, which the
policy judges ``unknown``. Combination uses ``dedup()``, never ``simplify()``, which can drop
an ``OR`` branch (``MIT AND (Apache-2.0 OR MIT)`` would become ``MIT``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from license_expression import (
    AND,
    OR,
    ExpressionError,
    LicenseSymbol,
    LicenseWithExceptionSymbol,
    Licensing,
    get_spdx_licensing,
)

UNIDENTIFIED = "LicenseRef-unidentified"

# Deprecated SPDX ids that fold a license and an exception into one id.
_DEPRECATED_WITH = {
    "gpl-2.0-with-autoconf-exception": "GPL-2.0-only WITH Autoconf-exception-2.0",
    "gpl-2.0-with-bison-exception": "GPL-2.0-or-later WITH Bison-exception-2.2",
    "gpl-2.0-with-classpath-exception": "GPL-2.0-only WITH Classpath-exception-2.0",
    "gpl-2.0-with-font-exception": "GPL-2.0-only WITH Font-exception-2.0",
    "gpl-2.0-with-gcc-exception": "GPL-2.0-only WITH GCC-exception-2.0",
    "gpl-3.0-with-autoconf-exception": "GPL-3.0-only WITH Autoconf-exception-3.0",
    "gpl-3.0-with-gcc-exception": "GPL-3.0-only WITH GCC-exception-3.1",
    "ecos-2.0": "GPL-2.0-or-later WITH eCos-exception-2.0",
}

# Free-form names seen in manifests and notices, keyed by ``_name_key``.
_NAMES = {
    "mit": "MIT",
    "mit license": "MIT",
    "the mit license": "MIT",
    "expat": "MIT",
    "apache": "Apache-2.0",
    "apache 2": "Apache-2.0",
    "apache 20": "Apache-2.0",
    "apache2": "Apache-2.0",
    "apache v2": "Apache-2.0",
    "apache license": "Apache-2.0",
    "apache license 20": "Apache-2.0",
    "apache license version 20": "Apache-2.0",
    "apache software license": "Apache-2.0",
    "apache software license 20": "Apache-2.0",
    "asl 20": "Apache-2.0",
    "bsd 3clause": "BSD-3-Clause",
    "bsd 3 clause": "BSD-3-Clause",
    "3clause bsd": "BSD-3-Clause",
    "new bsd": "BSD-3-Clause",
    "new bsd license": "BSD-3-Clause",
    "modified bsd license": "BSD-3-Clause",
    "revised bsd license": "BSD-3-Clause",
    "bsd 2clause": "BSD-2-Clause",
    "simplified bsd": "BSD-2-Clause",
    "simplified bsd license": "BSD-2-Clause",
    "freebsd": "BSD-2-Clause",
    "isc license": "ISC",
    "gplv2": "GPL-2.0-only",
    "gpl v2": "GPL-2.0-only",
    "gpl 2": "GPL-2.0-only",
    "gplv2+": "GPL-2.0-or-later",
    "gplv3": "GPL-3.0-only",
    "gpl v3": "GPL-3.0-only",
    "gpl 3": "GPL-3.0-only",
    "gplv3+": "GPL-3.0-or-later",
    "lgplv2": "LGPL-2.0-only",
    "lgplv21": "LGPL-2.1-only",
    "lgplv2+": "LGPL-2.0-or-later",
    "lgplv3": "LGPL-3.0-only",
    "lgplv3+": "LGPL-3.0-or-later",
    "agplv3": "AGPL-3.0-only",
    "agplv3+": "AGPL-3.0-or-later",
    "mpl 20": "MPL-2.0",
    "mozilla public license 20": "MPL-2.0",
    "public domain": "LicenseRef-public-domain",
    "unlicense": "Unlicense",
    "the unlicense": "Unlicense",
    "boost": "BSL-1.0",
    "boost software license": "BSL-1.0",
    "psf": "PSF-2.0",
    "python software foundation license": "PSF-2.0",
    "zlib license": "Zlib",
    "cc0": "CC0-1.0",
    "wtfpl": "WTFPL",
}


@dataclass(frozen=True)
class Normalized:
    """A validated SPDX expression and the input tokens that had to be replaced."""

    expression: str
    unknown: tuple[str, ...] = ()  # input tokens turned into LicenseRef-*
    renamed: tuple[tuple[str, str], ...] = ()  # (input token, SPDX id) pairs


@functools.cache
def licensing() -> Licensing:
    """The SPDX licensing of the installed license-expression (built once: it is slow)."""
    return get_spdx_licensing()


def sanitize_ref(text: str) -> str:
    """Make ``LicenseRef-<idstring>`` from any text (SPDX idstring: letters, digits, . and -)."""
    body = re.sub(r"^(?:LicenseRef-)+", "", text.strip(), flags=re.IGNORECASE)
    body = re.sub(r"[^A-Za-z0-9.]+", "-", body).strip("-.")
    return f"LicenseRef-{body[:64] or 'unknown'}"


def _name_key(text: str) -> str:
    text = text.lower().replace("licence", "license")
    text = re.sub(r"\bversion\b|\(.*?\)|[.,'\"_-]", lambda m: "" if m.group() != "-" else " ", text)
    text = text.replace("+", " +")
    return " ".join(text.split()).replace(" +", "+")


def known_key(token: str) -> str | None:
    """Return the SPDX id for a single license token, or None if it is not a known license."""
    symbol = licensing().known_symbols_lowercase.get(token.lower())
    if symbol is not None and not symbol.is_exception:
        return symbol.key
    return None


def name_to_spdx(text: str) -> str | None:
    """Map one free-form license name (``"Apache License, Version 2.0"``) to an SPDX id."""
    key = _name_key(text)
    return _NAMES.get(key) or _NAMES.get(key.removeprefix("the "))


def normalize(text: str) -> Normalized:
    """Parse any license string into a strict SPDX expression (see the module docstring).

    Raises:
        ValueError: the string is empty.
    """
    text = " ".join(text.split())
    if not text:
        raise ValueError("empty license expression")
    whole = _DEPRECATED_WITH.get(text.lower()) or name_to_spdx(text)
    if whole is not None:
        result = normalize(whole) if whole != text else Normalized(whole)
        return Normalized(result.expression, (), ((text, result.expression),))
    # "MIT/Apache-2.0" is the old Cargo spelling of a choice.
    text = re.sub(r"\s*/\s*", " OR ", text)
    try:
        parsed = licensing().parse(text, validate=True, strict=True)
        return Normalized(licensing().dedup(parsed).render())
    except ExpressionError:
        pass
    try:
        parsed = licensing().parse(text)
    except ExpressionError:
        return Normalized(sanitize_ref(text), (text,))
    if parsed is None:
        raise ValueError("empty license expression")
    unknown: list[str] = []
    renamed: list[tuple[str, str]] = []
    rendered = _render(parsed, unknown, renamed)
    expression = licensing().dedup(licensing().parse(rendered)).render()
    return Normalized(expression, tuple(unknown), tuple(renamed))


def _render(node, unknown: list[str], renamed: list[tuple[str, str]], top: bool = True) -> str:
    if isinstance(node, LicenseWithExceptionSymbol):
        base = _symbol(node.license_symbol.key, unknown, renamed)
        exception = licensing().known_symbols_lowercase.get(node.exception_symbol.key.lower())
        if exception is None or not exception.is_exception:
            # An exception nobody knows changes the terms in an unknown way.
            unknown.append(node.exception_symbol.key)
            return sanitize_ref(f"{node.license_symbol.key}-with-{node.exception_symbol.key}")
        return f"{base} WITH {exception.key}"
    if isinstance(node, LicenseSymbol):
        return _symbol(node.key, unknown, renamed)
    if isinstance(node, AND | OR):
        joiner = " AND " if isinstance(node, AND) else " OR "
        inner = joiner.join(_render(arg, unknown, renamed, top=False) for arg in node.args)
        return inner if top else f"({inner})"
    raise ValueError(f"unexpected expression node {node!r}")


def _symbol(key: str, unknown: list[str], renamed: list[tuple[str, str]]) -> str:
    if key.startswith("LicenseRef-"):
        return sanitize_ref(key)
    spdx = known_key(key)
    if spdx is not None:
        return spdx
    replacement = _DEPRECATED_WITH.get(key.lower()) or name_to_spdx(key)
    if replacement is not None:
        renamed.append((key, replacement))
        return f"({replacement})" if " " in replacement else replacement
    unknown.append(key)
    return sanitize_ref(key)


def combine(expressions: Iterable[str], operator: str = "AND") -> str | None:
    """Join expressions with AND (or OR), dropping duplicates with ``dedup()``."""
    unique = list(dict.fromkeys(e for e in expressions if e))
    if not unique:
        return None
    if len(unique) == 1:
        return unique[0]
    joined = f" {operator} ".join(f"({e})" for e in unique)
    return licensing().dedup(licensing().parse(joined)).render()


def license_keys(expression: str) -> list[str]:
    """Every license and exception id in an expression, in order."""
    return licensing().license_keys(licensing().parse(expression))


def parse(expression: str):
    """Parse an expression produced by ``normalize`` (LicenseRef-* allowed) into a tree."""
    return licensing().parse(expression)
