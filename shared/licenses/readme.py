"""The "License" section of a README (Markdown, reStructuredText or plain text)."""

from __future__ import annotations

import re

_TITLE = re.compile(
    r"^\W*(?:licen[cs]e|licen[cs]ing|copyright\s+(?:and|&)\s+licen[cs]e|licen[cs]e\s+(?:and|&)\s+copyright)"
    r"(?:\s+information)?\W*$",
    re.IGNORECASE,
)
_ATX = re.compile(r"^(#{1,6})\s*(.*?)\s*#*\s*$")
_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+.:_])\1{2,}\s*$")
_HTML_HEADING = re.compile(r"^\s*<h([1-6])[^>]*>(.*?)</h\1>\s*$", re.IGNORECASE)


def _headings(lines: list[str]) -> list[tuple[int, int, str, int, str]]:
    """(line index, level, title, first body line, style) for every heading."""
    found = []
    for index, line in enumerate(lines):
        atx = _ATX.match(line)
        if atx:
            found.append((index, len(atx.group(1)), atx.group(2), index + 1, "atx"))
            continue
        html = _HTML_HEADING.match(line)
        if html:
            title = re.sub(r"<[^>]+>", "", html.group(2))
            found.append((index, int(html.group(1)), title, index + 1, "html"))
            continue
        under = index + 1 < len(lines) and _UNDERLINE.match(lines[index + 1])
        if under and line.strip() and not _UNDERLINE.match(line):
            # Setext / reST: '=' is a top heading, anything else the next level down.
            level = 1 if under.group(1) == "=" else 2
            found.append((index, level, line.strip(), index + 2, "setext"))
    return found


def license_sections(text: str) -> list[tuple[int, str]]:
    """Every license section: (1-based line of its heading, body up to the next same-level heading).

    In a plain-text README without heading markup, a line that is only "License" (or
    "LICENSE:") starts a section that runs to the end of the file.
    """
    lines = text.split("\n")
    headings = _headings(lines)
    sections = []
    for position, (index, level, title, body_start, style) in enumerate(headings):
        if not _TITLE.match(title.strip("*_` ")):
            continue
        end = len(lines)
        # Only a heading of the same style ends the section: a license pasted under
        # "## License" keeps its own underlined titles ("1. Definitions\n---").
        for later_index, later_level, _title, _body, later_style in headings[position + 1 :]:
            if later_style == style and later_level <= level:
                end = later_index
                break
        body = "\n".join(lines[body_start:end]).strip()
        if body:
            sections.append((index + 1, body))
    if sections or headings:
        return sections
    for index, line in enumerate(lines):
        if _TITLE.match(line.strip()) and len(line.strip()) <= 40:
            body = "\n".join(lines[index + 1 :]).strip()
            if body:
                sections.append((index + 1, body))
            break
    return sections
