"""Turn license verdicts into the plain dicts the license schemas describe."""

from __future__ import annotations

import json

from server.models import LicensedRepository, LicenseVerdict
from server.serialize import as_utc
from server.workflows import licenses as workflow


def verdict_dict(row: LicenseVerdict, with_evidence: bool = False) -> dict:
    data = {
        "id": row.id,
        "expression": row.expression,
        "verdict": row.verdict,
        "admitted": bool(row.admitted),
        "source": row.source,
        "detector": {"name": row.detector, "version": row.detector_version},
        "policy": {"name": row.policy_name, "version": row.policy_version},
        "reason": row.reason,
        "actor": row.actor,
        "fingerprint": row.fingerprint,
        "created_at": as_utc(row.created_at),
    }
    if with_evidence:
        evidence = json.loads(row.evidence or "{}")
        data["evidence"] = evidence.get("items", [])
        data["scopes"] = evidence.get("scopes", [])
        data["unknown"] = evidence.get("unknown", [])
        data["files_scanned"] = evidence.get("files_scanned", 0)
        data["truncated"] = evidence.get("truncated", False)
    return data


def _address(repo: LicensedRepository) -> dict:
    return {
        "host": repo.host,
        "owner": repo.owner,
        "name": repo.name,
        "etag": workflow.etag_of(repo),
    }


def record_dict(repo: LicensedRepository) -> dict:
    """A repository's current verdict with its evidence, its history and its disputes."""
    rows = workflow.history(repo)
    return {
        **_address(repo),
        "current": verdict_dict(rows[0], with_evidence=True),
        "history": [verdict_dict(row) for row in rows],
        "disputes": [
            {
                "id": d["request"].id,
                "state": d["request"].state,
                "created_at": as_utc(d["request"].created_at),
                "verdict_id": d["verdict_id"],
            }
            for d in workflow.disputes(repo)
        ],
    }


def list_item_dict(repo: LicensedRepository, current: LicenseVerdict) -> dict:
    return {**_address(repo), "current": verdict_dict(current)}


def ingest_result_dict(result: dict) -> dict:
    return {
        **_address(result["repository"]),
        "status": result["status"],
        "verdict": verdict_dict(result["verdict"]),
        "unknown": list(result["unknown"]),
    }


def request_license_dict(req) -> dict | None:
    """The current verdict a ``license`` request disputes (None for other kinds, or none yet)."""
    found = workflow.verdict_for_request(req)
    if found is None:
        return None
    _repo, row = found
    return {
        "verdict_id": row.id,
        "expression": row.expression,
        "verdict": row.verdict,
        "admitted": bool(row.admitted),
        "source": row.source,
        "policy": {"name": row.policy_name, "version": row.policy_version},
        "created_at": as_utc(row.created_at),
    }
