"""ScanCode as an optional, deeper text matcher (``pip install 'optout[licenses-scancode]'``).

ScanCode knows ~2,600 licenses and thousands of notice rules, but its index takes ~1.4 GB and
seconds to load, and it scans tens of files per second (bench/licenses.py). Use it to review
a verdict in depth, not to scan a dataset. It is imported only when this matcher is built.
"""

from __future__ import annotations

import time
from importlib import metadata

from shared.licenses.textmatch import TextMatch


class ScancodeMatcher:
    """``TextMatcher`` over ScanCode's license detection; the index is loaded once, on first use.

    Args:
        timeout: seconds allowed per text. ScanCode's ``deadline`` is an absolute
            ``time.time()`` value: passing a small number (as some pipelines do) silently
            skips its slower matchers, so the deadline is computed per call.
    """

    name = "scancode"

    def __init__(self, timeout: float = 60.0) -> None:
        self.timeout = timeout
        try:
            self.version = metadata.version("scancode-toolkit-mini")
        except metadata.PackageNotFoundError:
            self.version = metadata.version("scancode-toolkit")  # raises if neither is installed

    def identify(self, text: str, threshold: float = 0.8) -> list[TextMatch]:
        """The detections in a text as one SPDX expression (ANDed), scored 0-1."""
        from licensedcode.cache import build_spdx_license_expression, get_cache
        from licensedcode.detection import detect_licenses

        detections = [
            d
            for d in detect_licenses(query_string=text, deadline=time.time() + self.timeout)
            if d.license_expression
        ]
        if not detections:
            return []
        licensing = get_cache().licensing
        found = []
        for detection in detections:
            score = _score(detection)
            if score < threshold:
                continue
            spdx = build_spdx_license_expression(detection.license_expression, licensing)
            found.append(TextMatch(str(spdx), score, "detection"))
        return found

    def match(self, text: str) -> TextMatch | None:
        found = self.identify(text, 0.0)
        return max(found, key=lambda m: m.score) if found else None


def _score(detection) -> float:
    """The detection's match scores (0-100) weighted by matched length, as a 0-1 score."""
    matches = detection.matches or []
    total = sum(m.len() for m in matches)
    if not total:
        return 0.0
    return min(sum(m.score() * m.len() for m in matches) / total / 100.0, 1.0)
