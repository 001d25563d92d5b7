"""License verdicts: bulk ingestion of pipelines' scans, reading, listing, reviewer overrides.

Ingestion is for pipelines (publisher or admin tokens): it can replace many verdicts at once.
Reviewers read verdicts and settle them one at a time with an override.
"""

from __future__ import annotations

from marshmallow import RAISE

from server.api.blueprint import Blueprint
from server.api.preconditions import body_limit, etag_header, required_if_match
from server.auth import admits, current_principal
from server.schemas_licenses import (
    IngestReportSchema,
    LicenseListArgsSchema,
    LicensePageSchema,
    LicenseRecordSchema,
    OverrideSchema,
    ScanBatchSchema,
)
from server.serialize_licenses import ingest_result_dict, list_item_dict, record_dict
from server.workflows import licenses as workflow
from shared.states import ADMIN, PUBLISHER, USER_ROLES

bp = Blueprint("licenses", __name__, description="SPDX license verdicts per repository")

REPOSITORY = "/licenses/<host>/<path:owner>/<name>"
IF_MATCH_DOC = {
    "in": "header",
    "name": "If-Match",
    "required": True,
    "schema": {"type": "string"},
    "description": "the ETag of the verdict you are overriding",
}





@bp.route("/licenses/scans", methods=["POST"])
@body_limit("LICENSE_SCANS_MAX_CONTENT_LENGTH")
@admits(PUBLISHER, ADMIN)
@bp.arguments(ScanBatchSchema)
@bp.response(200, IngestReportSchema)
def ingest(body):
    """Store the verdicts of up to 1000 scans, judged again here; the same scan adds nothing."""
    results = workflow.ingest_scans(body["scans"], current_principal().actor)
    created = sum(1 for r in results if r["status"] == "created")
    return {
        "results": [ingest_result_dict(r) for r in results],
        "created": created,
        "unchanged": len(results) - created,
    }


@bp.route("/licenses", methods=["GET"])
@admits(*USER_ROLES)
@bp.arguments(LicenseListArgsSchema, location="query", unknown=RAISE)
@bp.response(200, LicensePageSchema)
def list_licenses(args):
    """List repositories with their current verdict, filtered and paged."""
    flt = workflow.VerdictFilter(**args)
    rows, total, next_cursor = workflow.list_verdicts(flt)
    return {
        "items": [list_item_dict(repo, current) for repo, current in rows],
        "total": total,
        "page": flt.page,
        "per_page": flt.per_page,
        "next_cursor": next_cursor,
    }


@bp.route(REPOSITORY, methods=["GET"])
@admits(*USER_ROLES)
@bp.response(200, LicenseRecordSchema)
def read(host, owner, name):
    """Read a repository's current verdict with evidence, its history and owners' disputes."""
    repo = workflow.get_repository(workflow.repository_key(host, owner, name))
    data = record_dict(repo)
    return data, 200, etag_header(data)


@bp.route(REPOSITORY + "/override", methods=["POST"])
@admits(*USER_ROLES)
@bp.arguments(OverrideSchema)
@bp.response(200, LicenseRecordSchema)
@bp.doc(parameters=[IF_MATCH_DOC])
def override(body, host, owner, name):
    """Replace the current verdict with a reviewer's, for a reason; needs If-Match."""
    if_match = required_if_match("verdict")
    key = workflow.repository_key(host, owner, name)
    options = {"verdict": body.get("verdict")}
    if "expression" in body:
        options["expression"] = body["expression"]
    repo = workflow.override_verdict(
        key, body["reason"], current_principal().actor, if_match, **options
    )
    data = record_dict(repo)
    return data, 200, etag_header(data)
