"""Free-text intake: proposed requests from prose, for reviewers and the mail gateway.

Nothing is created here. A proposal becomes a request only when a person submits its
``request`` body to ``POST /requests`` and the owner confirms the scope.
"""

from __future__ import annotations

from flask import current_app, request

from server.api.blueprint import Blueprint
from server.auth import PUBLIC, admits
from server.limits import limiter
from server.schemas_intake import IntakeMailSchema, IntakeResultSchema, IntakeSchema
from server.workflows import intake as workflow
from shared.states import USER_ROLES

bp = Blueprint("intake", __name__, description="Free-text intake: proposals, never submissions")

GATEWAY_HEADER = "X-Optout-Gateway-Token"


def _gateway_limit() -> str:
    return current_app.config["INTAKE_GATEWAY_RATE_LIMIT"]


@bp.route("/intake", methods=["POST"])
@admits(*USER_ROLES)
@bp.arguments(IntakeSchema)
@bp.response(200, IntakeResultSchema)
def propose(body):
    """Propose requests from a message: each field with its span and confidence, or none."""
    return workflow.propose_from_text(body["text"], body.get("default_host"))


@bp.route("/intake/mail", methods=["POST"])
@limiter.limit(_gateway_limit)
@admits(PUBLIC)
@bp.arguments(IntakeMailSchema)
@bp.response(200, IntakeResultSchema)
@bp.doc(
    parameters=[
        {
            "in": "header",
            "name": GATEWAY_HEADER,
            "required": True,
            "schema": {"type": "string"},
            "description": "the mail gateway's shared secret (only its SHA-256 is configured)",
        }
    ]
)
def propose_from_mail(body):
    """The mail gateway's door: a message or a raw e-mail in, proposals out (no bearer)."""
    workflow.check_gateway_token(request.headers.get(GATEWAY_HEADER))
    text = body.get("text") or workflow.text_of_email(body["email"])
    return workflow.propose_from_text(text)
