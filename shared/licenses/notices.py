"""Short license notices that full-text matchers miss.

askalono and ScanCode match whole texts well, but a README that says "Licensed under either of
Apache License, Version 2.0 or MIT license at your option" or a LICENSE file holding one
sentence is too short for a bigram score. This is a small rule set: a trigger phrase
("licensed under", "released under", "dual-licensed", "License:"), then the license names in
the rest of its paragraph, joined with ``OR`` when the text offers a choice and ``AND`` when it
lists terms that all apply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NOTICE_SCORE = 0.9
TITLE_SCORE = 0.85
MAX_NOTICE_CHARS = 8_000

_LIC = r"licen[cs]e"
_VER = r"[-,]?\s*(?:version\s*|v\.?\s*)?"

# (pattern, SPDX id) — the more specific pattern first.
_NAMES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p, re.IGNORECASE), spdx)
    for p, spdx in [
        (
            rf"apache(?:\s+software)?(?:\s+{_LIC})?{_VER}2(?:\.0)?\b|\basl[-\s]?2(?:\.0)?\b",
            "Apache-2.0",
        ),
        (r"\bmit[-\s](?:0|no\s+attribution)\b", "MIT-0"),
        (rf"(?-i:\bMIT\b)(?!-)|\bmit\s+{_LIC}|\bexpat\s+{_LIC}", "MIT"),
        (
            r"\bbsd[-\s]?3[-\s]?clause|\b(?:3|three)[-\s]clause\s+bsd|\b(?:new|revised|modified)\s+bsd",
            "BSD-3-Clause",
        ),
        (
            rf"\bbsd[-\s]?2[-\s]?clause|\b(?:2|two)[-\s]clause\s+bsd|\bsimplified\s+bsd|\bfreebsd\s+{_LIC}",
            "BSD-2-Clause",
        ),
        (r"\b0bsd\b|\bzero[-\s]clause\s+bsd", "0BSD"),
        (rf"\bisc(?:\s+{_LIC})?\b", "ISC"),
        (rf"mozilla\s+public\s+{_LIC}{_VER}2(?:\.0)?\b|\bmpl[-\s]?v?2(?:\.0)?\b", "MPL-2.0"),
        (rf"boost\s+software\s+{_LIC}|\bbsl[-\s]?1\.0\b", "BSL-1.0"),
        (r"\bunlicen[cs]e\b", "Unlicense"),
        (r"\bcc0\b|creative\s+commons\s+zero", "CC0-1.0"),
        (rf"\bzlib(?:/libpng)?\s+{_LIC}", "Zlib"),
        (r"\bwtfpl\b", "WTFPL"),
        (rf"eclipse\s+public\s+{_LIC}{_VER}2(?:\.0)?\b|\bepl[-\s]?2(?:\.0)?\b", "EPL-2.0"),
        (rf"eclipse\s+public\s+{_LIC}{_VER}1(?:\.0)?\b|\bepl[-\s]?1(?:\.0)?\b", "EPL-1.0"),
        (rf"artistic\s+{_LIC}{_VER}2(?:\.0)?\b", "Artistic-2.0"),
        (rf"python\s+software\s+foundation\s+{_LIC}|\bpsf(?:[-\s]2\.0)?\s+{_LIC}", "PSF-2.0"),
        (rf"blue\s*oak\s+model\s+{_LIC}", "BlueOak-1.0.0"),
        (rf"universal\s+permissive\s+{_LIC}|\bupl[-\s]1\.0\b", "UPL-1.0"),
        (r"\b(?:in|into|to)\s+the\s+public\s+domain\b", "LicenseRef-scancode-public-domain"),
    ]
]

_GPL_LONG = re.compile(
    rf"(?:gnu\s+)?(?P<kind>lesser\s+|library\s+|affero\s+)?general\s+public\s+{_LIC}"
    r"(?:[^.]{0,60}?(?:version|v\.?)\s*(?P<ver>[123](?:\.[01])?))?"
    r"(?P<later>[^.]{0,60}?(?:or\s+(?:\(at\s+your\s+option\)\s+)?(?:any\s+)?later|or\s+newer|\+))?",
    re.IGNORECASE,
)
_GPL_SHORT = re.compile(
    r"\b(?P<kind>l|a)?gpl[-\s]?v?(?P<ver>[123](?:\.[01])?)?(?P<later>\+|-or-later|\s+or\s+later)?"
    r"(?P<only>-only)?\b",
    re.IGNORECASE,
)

_TRIGGER = re.compile(
    rf"\b(?:{_LIC}d|released|distributed|available|published|provided|made\s+available)\s+under\b"
    rf"|\bunder\s+the\s+terms\s+of\b|\bdual[-\s]{_LIC}d\b|\b{_LIC}d\s+as\b"
    rf"|^\W*{_LIC}\s*[:=]|\b\w+[-\s]{_LIC}d\b|\bsubject\s+to\s+the\b|\bcovered\s+by\b"
    r"|\bpublic\s+domain\b",
    re.IGNORECASE | re.MULTILINE,
)
_CHOICE = re.compile(r"\beither\b|\bdual\b|\bat\s+your\s+(?:option|choice)\b|\bor\b", re.IGNORECASE)
_COPYRIGHT_LINE = re.compile(r"^\W*(?:copyright\b|\(c\)|©)", re.IGNORECASE)
_PARAGRAPH_END = re.compile(r"\n\s*\n(?!\s*[-*+]|\s*\d+[.)])")


@dataclass(frozen=True)
class Notice:
    """An expression read from a notice, with the sentence that said it."""

    expression: str
    text: str
    score: float = NOTICE_SCORE


def find_notice(text: str, bare_names: bool = False) -> Notice | None:
    """Return the first license notice in a text, or None.

    With ``bare_names`` (the body of a README "License" section), a short first paragraph that
    only names a license ("MIT © Jane Doe") counts as a notice too.
    """
    text = text[:MAX_NOTICE_CHARS]
    for trigger in _TRIGGER.finditer(text):
        window, offset = _window(text, trigger.start())
        notice = _notice(window, window[offset:])
        if notice is not None:
            return notice
    if bare_names:
        first = next((p for p in re.split(r"\n\s*\n", text) if p.strip()), "")
        if len(first) <= 300:
            return _notice(first, first)
    return None


def find_title(text: str) -> Notice | None:
    """A license file's title ("GNU LESSER GENERAL PUBLIC LICENSE / Version 3") as a notice.

    Only for license files whose text matched nothing: the title of a text too different
    from the reference (or, like LGPL-3.0, stored together with another license) still names
    it. The score is lower than a notice's.
    """
    paragraphs = (p for p in re.split(r"\n\s*\n", text.strip()[:4000]) if p.strip())
    first = next((p for p in paragraphs if not _COPYRIGHT_LINE.match(p)), "")
    if len(first) > 200 or not re.search(r"licen[cs]e", first, re.IGNORECASE):
        return None
    ids = license_names(first)
    if len(ids) != 1:
        return None
    return Notice(ids[0], " ".join(first.split()), TITLE_SCORE)


def _notice(window: str, after_trigger: str) -> Notice | None:
    ids = license_names(window)
    if not ids:
        return None
    if len(ids) == 1:
        expression = ids[0]
    else:
        choice = _CHOICE.search(after_trigger)
        expression = (" OR " if choice else " AND ").join(ids)
    return Notice(expression, " ".join(window.split())[:300])


def license_names(text: str) -> list[str]:
    """The SPDX ids of license names mentioned in a text, in order of appearance."""
    found: list[tuple[int, int, str, bool]] = []
    for pattern, spdx in _NAMES:
        found.extend((m.start(), m.end(), spdx, False) for m in pattern.finditer(text))
    found.extend(_gpl_matches(text))
    found.sort(key=lambda item: (item[0], -(item[1] - item[0])))
    ids: list[str] = []
    versionless: list[str] = []
    covered_until = -1
    for start, end, spdx, weak in found:
        if start < covered_until:
            continue  # inside a longer name already taken ("MIT" in "MIT-0")
        covered_until = end
        if spdx not in ids:
            ids.append(spdx)
            if weak:
                versionless.append(spdx)
    # "the GNU General Public License (GPL), version 3" names one license, not two.
    for spdx in versionless:
        family = spdx.split("-")[0]
        if any(other.split("-")[0] == family and other not in versionless for other in ids):
            ids.remove(spdx)
    return ids


def _gpl_matches(text: str):
    for pattern in (_GPL_LONG, _GPL_SHORT):
        for m in pattern.finditer(text):
            kind = (m.group("kind") or "").strip().lower()
            if (
                pattern is _GPL_SHORT
                and not m.group("ver")
                and not kind
                and m.group(0).strip().lower() != "gpl"
            ):
                continue
            version = m.group("ver")
            later = bool(m.group("later"))
            yield m.start(), m.end(), _gpl_id(kind, version, later), version is None


def _gpl_id(kind: str, version: str | None, later: bool) -> str:
    family = {"lesser": "LGPL", "library": "LGPL", "l": "LGPL", "affero": "AGPL", "a": "AGPL"}.get(
        kind, "GPL"
    )
    if version is None:
        # A GPL without a version lets the recipient pick any version (GPL-2.0 section 9).
        default = {"GPL": "1.0", "LGPL": "2.0", "AGPL": "3.0"}[family]
        return f"{family}-{default}-or-later"
    if "." not in version:
        version += ".0"
    if family == "LGPL" and version == "2.0" and kind == "lesser":
        version = "2.1"
    if (family, version) not in _GPL_VERSIONS:
        return f"{family}-{_GPL_VERSIONS_DEFAULT[family]}-or-later"
    return f"{family}-{version}-{'or-later' if later else 'only'}"


_GPL_VERSIONS = {
    ("GPL", "1.0"),
    ("GPL", "2.0"),
    ("GPL", "3.0"),
    ("LGPL", "2.0"),
    ("LGPL", "2.1"),
    ("LGPL", "3.0"),
    ("AGPL", "1.0"),
    ("AGPL", "3.0"),
}
_GPL_VERSIONS_DEFAULT = {"GPL": "1.0", "LGPL": "2.0", "AGPL": "3.0"}


def _window(text: str, start: int) -> tuple[str, int]:
    """The trigger's line and the rest of its paragraph (a list under it stays in).

    Returns the window (at most 600 characters) and the trigger's offset in it.
    """
    line_start = text.rfind("\n", 0, start) + 1
    rest = text[line_start : line_start + 600]
    end = _PARAGRAPH_END.search(rest, start - line_start)
    return (rest[: end.start()] if end else rest), start - line_start
