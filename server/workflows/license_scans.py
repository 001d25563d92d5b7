"""Validate a pipeline's scan again on the server: every expression strictly, the verdict anew.

A scan is ``shared.licenses.ScanResult.to_json()`` (already checked against the schema). Its
expressions go through ``shared.licenses.normalize``: ids outside the SPDX list become
``LicenseRef-…`` and are reported, never passed through. Its ``verdict``, ``admitted`` and
``policy`` are ignored: the server's policy judges. The fingerprint covers what the verdict
rests on (expressions, evidence, detector), not counters such as ``files_scanned``.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field

from server.errors import ApiError
from shared.licenses import Normalized, Policy, normalize


@functools.lru_cache(maxsize=8192)
def _normalized(text: str) -> Normalized:
    return normalize(text)


def strict_expression(text: str, field_name: str) -> Normalized:
    """Normalise one expression; refuse text that holds no expression at all.

    Raises:
        ApiError: 422 ``invalid_expression``.
    """
    try:
        return _normalized(text)
    except ValueError as error:
        raise ApiError(
            422, "invalid_expression", f"{field_name}: {error}", {"field": field_name}
        ) from None


@dataclass(frozen=True)
class PreparedScan:
    """A scan validated and judged here: what a verdict row stores."""

    expression: str | None
    unknown: tuple[str, ...]
    verdict: str
    admitted: bool
    detector: str
    detector_version: str
    evidence: dict = field(repr=False)
    fingerprint: str = ""


def prepare_scan(scan: dict, policy: Policy) -> PreparedScan:
    """Validate every expression of a scan (already schema-checked) and judge it under ``policy``.

    The client's ``verdict``, ``admitted`` and ``policy`` are ignored: the server judges.
    """
    declared = None
    if scan.get("declared") is not None:
        declared = strict_expression(scan["declared"], "scan.declared")
    items = [_evidence_item(e, i) for i, e in enumerate(scan.get("evidence") or [])]
    scopes = [_scope_item(s, i) for i, s in enumerate(scan.get("scopes") or [])]
    detector = scan["detector"]
    content = {
        "declared": declared.expression if declared else None,
        "detector": {"name": detector["name"], "version": detector["version"]},
        "evidence": items,
        "scopes": scopes,
        "truncated": bool(scan.get("truncated", False)),
    }
    fingerprint = hashlib.sha256(
        json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    expression = content["declared"]
    verdict = policy.judge(expression)
    for scope in scopes:  # judged after fingerprinting: a verdict is not the scan's content
        scope["verdict"] = policy.judge(scope["expression"])
    unknown = declared.unknown if declared else ()
    evidence = {
        "items": items,
        "scopes": scopes,
        "unknown": list(unknown),
        "files_scanned": int(scan.get("files_scanned", 0)),
        "truncated": content["truncated"],
        "skipped": dict(scan.get("skipped") or {}),
    }
    return PreparedScan(
        expression=expression,
        unknown=tuple(unknown),
        verdict=verdict,
        admitted=policy.admits(verdict),
        detector=detector["name"],
        detector_version=detector["version"],
        evidence=evidence,
        fingerprint=fingerprint,
    )


def _evidence_item(item: dict, index: int) -> dict:
    normalized = strict_expression(item["expression"], f"scan.evidence.{index}.expression")
    data = {
        "path": item["path"],
        "expression": normalized.expression,
        "score": round(float(item["score"]), 4),
        "detector": item["detector"],
        "kind": item["kind"],
    }
    if item.get("line") is not None:
        data["line"] = item["line"]
    unknown = list(dict.fromkeys([*(item.get("unknown") or []), *normalized.unknown]))
    if unknown:
        data["unknown"] = unknown
    return data


def _scope_item(scope: dict, index: int) -> dict:
    expression = None
    if scope.get("expression") is not None:
        expression = strict_expression(
            scope["expression"], f"scan.scopes.{index}.expression"
        ).expression
    return {
        "path": scope["path"],
        "expression": expression,
        "vendored": bool(scope.get("vendored", False)),
        "evidence": list(scope.get("evidence") or []),
        "other_evidence": int(scope.get("other_evidence", 0)),
    }
