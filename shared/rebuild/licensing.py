"""License scopes of a repository snapshot held in memory, judged by a policy.

The detection is ``shared.licenses``' own (license files, README sections, REUSE, manifests,
SPDX headers; a directory with license evidence of its own is a scope covering its subtree),
run by ``scan_files`` over the snapshot's contents instead of a checkout on disk, so that the
files judged are exactly the files released. Evidence is cached per (blob, kind of file): the
same MIT text in ten thousand repositories is matched once.
"""

from __future__ import annotations

from shared.licenses.policy import Policy
from shared.licenses.scan import RULES_VERSION, EvidenceCache, ScanResult, scan_files
from shared.licenses.textmatch import TextMatcher, default_matcher
from shared.rebuild.inputs import InputError

__all__ = ["EvidenceCache", "detector_version", "scan_snapshot"]


def scan_snapshot(
    paths: list[str],
    contents: list[bytes],
    ids: list[str],
    policy: Policy,
    cache: EvidenceCache | None = None,
    matcher: TextMatcher | None = None,
    where: str = "a repository",
) -> ScanResult:
    """Detect and judge the licenses of one repository snapshot (paths relative to its root).

    Every file is read (no file limit); ``where`` names the snapshot in errors.

    Raises:
        InputError: a path cannot be a file of a checkout (absolute, ``..``, empty parts).
    """
    try:
        return scan_files(dict(zip(paths, contents, strict=True)), policy, matcher,
                          max_files=None, ids=dict(zip(paths, ids, strict=True)),
                          cache=cache if cache is not None else {})
    except ValueError as error:
        raise InputError(f"{where}: {error}") from None


def detector_version(matcher: TextMatcher | None = None) -> str:
    matcher = matcher or default_matcher()
    return f"{matcher.name} {matcher.version}+rules.{RULES_VERSION}"
