"""SPDX license detection and policy for repository checkouts (pure Python, no server).

    from shared.licenses import scan_files, scan_repository
    result = scan_repository("path/to/checkout")
    result.declared, result.verdict, result.to_json()
    scan_files({"LICENSE": mit_text, "src/x.py": code})  # the same, for files in memory

Detection is in ``scan`` (walk, scopes) with full-text matching in ``textmatch`` (askalono's
store, loaded once per process) and short notices in ``notices``; expressions are validated
in ``expressions``; verdicts come from a named, versioned ``Policy``.
"""

from shared.licenses.expressions import Normalized, combine, normalize
from shared.licenses.policy import (
    DEFAULT_POLICY,
    NO_LICENSE,
    NON_PERMISSIVE,
    PERMISSIVE,
    UNKNOWN,
    VERDICTS,
    Policy,
)
from shared.licenses.scan import (
    Evidence,
    EvidenceCache,
    LicenseScope,
    ScanResult,
    detect_text,
    scan_files,
    scan_repository,
)
from shared.licenses.textmatch import AskalonoMatcher, TextMatch, TextMatcher, default_matcher

__all__ = [
    "DEFAULT_POLICY",
    "NON_PERMISSIVE",
    "NO_LICENSE",
    "PERMISSIVE",
    "UNKNOWN",
    "VERDICTS",
    "AskalonoMatcher",
    "Evidence",
    "EvidenceCache",
    "LicenseScope",
    "Normalized",
    "Policy",
    "ScanResult",
    "TextMatch",
    "TextMatcher",
    "combine",
    "default_matcher",
    "detect_text",
    "normalize",
    "scan_files",
    "scan_repository",
]
