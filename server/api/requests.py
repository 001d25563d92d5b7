"""Opt-out requests: submit (public), list (staff), read and transition (owner or staff)."""

from __future__ import annotations

from flask import current_app, url_for
from marshmallow import RAISE

from server.api.blueprint import Blueprint
from server.api.preconditions import etag_header, required_if_match
from server.auth import PUBLIC, admits, current_principal
from server.limits import submissions
from server.schemas import (
    LookupSchema,
    ReceiptSchema,
    RequestCountsArgsSchema,
    RequestCountsSchema,
    RequestCreateSchema,
    RequestDetailSchema,
    RequestListArgsSchema,
    RequestPageSchema,
    TransitionSchema,
)
from server.serialize import request_dict
from server.workflows import catalog
from server.workflows import requests as workflow
from shared.states import OWNER, USER_ROLES

bp = Blueprint("requests", __name__, description="Opt-out requests and their workflow")

NEXT_STEP = (
    "Confirm the scope shown here with your status token (transition 'confirmed'); "
    "then prove that you may speak for it. Keep the status token: it is shown once."
)




@bp.route("/requests", methods=["POST"])
@submissions
@admits(PUBLIC)
@bp.arguments(RequestCreateSchema)
@bp.response(201, ReceiptSchema)
def submit(body):
    """Submit an opt-out request; the receipt holds the secret status token, once."""
    req, token = workflow.submit_request(body)
    data = request_dict(req, None)
    headers = etag_header(data)
    headers["Location"] = url_for("requests.read", request_id=req.id)
    status_url = (current_app.config["PUBLIC_URL"].rstrip("/")
                  + url_for("owners.status", t=token))
    return ({"request": data, "status_token": token, "status_url": status_url,
             "next": NEXT_STEP}, 201, headers)


@bp.route("/requests", methods=["GET"])
@admits(*USER_ROLES)
@bp.arguments(RequestListArgsSchema, location="query", unknown=RAISE)
@bp.response(200, RequestPageSchema)
def list_requests(args):
    """List requests with filters (state, kind, host, age, text), sorted and paged."""
    flt = workflow.RequestFilter(**args)
    items, total, next_cursor = workflow.list_requests(flt)
    principal = current_principal()
    return {
        "items": [request_dict(r, principal) for r in items],
        "total": total,
        "page": flt.page,
        "per_page": flt.per_page,
        "next_cursor": next_cursor,
    }


@bp.route("/requests/counts", methods=["GET"])
@admits(*USER_ROLES)
@bp.arguments(RequestCountsArgsSchema, location="query", unknown=RAISE)
@bp.response(200, RequestCountsSchema)
def counts(args):
    """Count the requests per state that match the other filters (for the reviewers' queue)."""
    per_state = workflow.count_by_state(workflow.RequestFilter(**args))
    return {"counts": per_state, "total": sum(per_state.values())}


@bp.route("/requests/<int:request_id>/coverage", methods=["GET"])
@admits(*USER_ROLES)
@bp.response(200, LookupSchema)
def coverage(request_id):
    """The catalog entries a request covers: the account's or the repository's releases."""
    req = workflow.get_request(request_id, current_principal())
    name = None if req.kind == "owner" else req.name
    return catalog.lookup(req.host, req.owner, name)


@bp.route("/requests/<int:request_id>", methods=["GET"])
@admits(OWNER, *USER_ROLES)
@bp.response(200, RequestDetailSchema)
def read(request_id):
    """Read one request with its history; owners may read only their own."""
    principal = current_principal()
    data = request_dict(workflow.get_request(request_id, principal), principal, with_history=True)
    return data, 200, etag_header(data)


@bp.route("/requests/<int:request_id>/transitions", methods=["POST"])
@admits(OWNER, *USER_ROLES)
@bp.arguments(TransitionSchema)
@bp.response(200, RequestDetailSchema)
@bp.doc(
    parameters=[
        {
            "in": "header",
            "name": "If-Match",
            "required": True,
            "schema": {"type": "string"},
            "description": "the ETag of the version you acted on",
        }
    ]
)
def transition(body, request_id):
    """Move a request to another state; needs If-Match with the ETag you last read."""
    if_match = required_if_match("request")
    principal = current_principal()
    req = workflow.transition_request(
        request_id, body["to"], body.get("reason"), principal, if_match
    )
    data = request_dict(req, principal, with_history=True)
    return data, 200, etag_header(data)


@bp.route("/requests/<int:request_id>/reinclusion", methods=["POST"])
@admits(OWNER)
@bp.response(200, RequestDetailSchema)
@bp.doc(
    parameters=[
        {"in": "header", "name": "If-Match", "required": True, "schema": {"type": "string"}}
    ]
)
def reinclusion(request_id):
    """Ask for a published removal to be reverted (a reviewer decides)."""
    if_match = required_if_match("request")
    principal = current_principal()
    req = workflow.request_reinclusion(request_id, principal, if_match)
    data = request_dict(req, principal, with_history=True)
    return data, 200, etag_header(data)
