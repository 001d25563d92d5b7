"""Exclusion lists: public manifests and bodies for pipelines; preview and publish for
publishers."""

from __future__ import annotations

import hashlib

from flask import Response, request

from server.api.blueprint import Blueprint
from server.auth import PUBLIC, admits, current_principal
from server.errors import ApiError
from server.schemas import (
    ListDiffSchema,
    PreviewSchema,
    PublishedListSchema,
    PublishSchema,
    ResignSchema,
)
from server.serialize import as_utc
from server.workflows import exclusions as workflow
from shared.states import ADMIN, PUBLISHER, USER_ROLES

bp = Blueprint("exclusions", __name__, description="Signed exclusion lists")

TEXT = {"content": {"text/plain": {"schema": {"type": "string"}}}}
NDJSON = {"content": {"application/x-ndjson": {"schema": {"type": "string"}}}}


def _published(row) -> dict:
    return {"version": row.version, "rules": row.rules, "issued": as_utc(row.issued),
            "expires": as_utc(row.expires), "manifest": row.note}


def _manifest_response(row) -> Response:
    etag = hashlib.sha256(row.note.encode()).hexdigest()
    if etag in request.if_none_match:
        return Response(status=304, headers={"ETag": f'"{etag}"'})
    return Response(row.note, mimetype="text/plain", headers={"ETag": f'"{etag}"',
                                                              "Cache-Control": "no-cache"})


@bp.route("/exclusions/latest/manifest", methods=["GET"])
@admits(PUBLIC)
@bp.doc(responses={"200": {"description": "the signed manifest note", **TEXT},
                   "304": {"description": "unchanged since the ETag in If-None-Match"}})
def latest_manifest():
    """The newest signed manifest; send If-None-Match with its ETag to get 304 when unchanged."""
    row = workflow.latest()
    if row is None:
        raise ApiError(404, "not_found", "no exclusion list has been published yet")
    return _manifest_response(row)


@bp.route("/exclusions/<int:version>/manifest", methods=["GET"])
@admits(PUBLIC)
@bp.doc(responses={"200": {"description": "the signed manifest note", **TEXT},
                   "304": {"description": "unchanged since the ETag in If-None-Match"}})
def manifest(version):
    """The signed manifest of one version."""
    return _manifest_response(workflow.get_list(version))


@bp.route("/exclusions/<int:version>/body", methods=["GET"])
@admits(PUBLIC)
@bp.doc(responses={"200": {"description": "canonical JSON Lines, sorted", **NDJSON}})
def body(version):
    """The body of one version, byte for byte as the manifest hashes it."""
    row = workflow.get_list(version)
    return Response(bytes(row.body), mimetype="application/x-ndjson",
                    headers={"Cache-Control": "public, max-age=31536000, immutable"})


@bp.route("/exclusions/preview", methods=["GET"])
@admits(PUBLISHER, ADMIN)
@bp.response(200, PreviewSchema)
def preview():
    """The next list as a diff against the current one, and the requests it would publish."""
    return workflow.preview()


@bp.route("/exclusions", methods=["POST"])
@admits(PUBLISHER, ADMIN)
@bp.arguments(PublishSchema)
@bp.response(201, PublishedListSchema)
def publish(body):
    """Publish the next list (send confirm: "publish"); approved requests become published."""
    return _published(workflow.publish(current_principal().actor, body["expires_days"]))


@bp.route("/exclusions/resign", methods=["POST"])
@admits(PUBLISHER, ADMIN)
@bp.arguments(ResignSchema)
@bp.response(201, PublishedListSchema)
def resign(body):
    """Issue the current body again as a new version with a fresh expiry."""
    return _published(workflow.resign(current_principal().actor, body["expires_days"]))


@bp.route("/exclusions/<int:old>/diff/<int:new>", methods=["GET"])
@admits(*USER_ROLES)
@bp.response(200, ListDiffSchema)
def diff(old, new):
    """Rules added and removed between two versions (in clear, so staff only)."""
    return workflow.diff(old, new)
