"""Proof of authority: challenge files, their check, e-mailed links, and the evidence."""

from __future__ import annotations

from server.api.blueprint import Blueprint
from server.auth import PUBLIC, admits, current_principal
from server.schemas import (
    ChallengeCheckSchema,
    ChallengeCreateSchema,
    ChallengeSchema,
    CheckResultSchema,
    EmailConfirmedSchema,
    EmailConfirmSchema,
    EmailProofCreateSchema,
    EmailProofSentSchema,
    ProofsSchema,
)
from server.serialize import challenge_dict, email_proof_dict, evidence_dict
from server.workflows import email_proofs
from server.workflows import proofs as workflow
from server.workflows.requests import etag_of
from shared.states import OWNER, USER_ROLES

bp = Blueprint("proofs", __name__, description="Proof of authority over a request's scope")

EMAIL_NEXT = (
    "Open the link in the e-mail and confirm. It is recorded as evidence for the reviewers, "
    "who verify the request; a challenge file verifies it at once."
)


@bp.route("/requests/<int:request_id>/challenges", methods=["POST"])
@admits(OWNER)
@bp.arguments(ChallengeCreateSchema)
@bp.response(201, ChallengeSchema)
@bp.alt_response(200, schema=ChallengeSchema, description="the open challenge, again")
def create_challenge(body, request_id):
    """Get a token to publish in a file of the repository or of a profile repository."""
    challenge, created = workflow.create_challenge(
        request_id, current_principal(), body.get("account")
    )
    return challenge_dict(challenge, challenge.request), 201 if created else 200


@bp.route("/requests/<int:request_id>/challenges/check", methods=["POST"])
@admits(OWNER, *USER_ROLES)
@bp.arguments(ChallengeCheckSchema, required=False)
@bp.response(200, CheckResultSchema)
def check_challenges(_body, request_id):
    """Fetch the open challenges' files; verify the request when they prove authority."""
    result = workflow.check_challenges(request_id, current_principal())
    return {
        "verified": result.verified,
        "state": result.request.state,
        "etag": etag_of(result.request),
        "message": result.message,
        "challenges": [
            {**challenge_dict(r["challenge"], result.request), "checks": r["checks"]}
            for r in result.challenges
        ],
    }


@bp.route("/requests/<int:request_id>/evidence", methods=["GET"])
@admits(OWNER, *USER_ROLES)
@bp.response(200, ProofsSchema)
def evidence(request_id):
    """List a request's evidence, challenges and e-mailed links (addresses masked)."""
    req, found = workflow.list_proofs(request_id, current_principal())
    return {
        "evidence": [evidence_dict(e) for e in found["evidence"]],
        "challenges": [challenge_dict(c, req) for c in found["challenges"]],
        "email_proofs": [email_proof_dict(p) for p in found["email_proofs"]],
    }


@bp.route("/requests/<int:request_id>/email-proof", methods=["POST"])
@admits(OWNER)
@bp.arguments(EmailProofCreateSchema)
@bp.response(202, EmailProofSentSchema)
def start_email_proof(body, request_id):
    """Mail a single-use confirmation link (when the server has SMTP configured)."""
    proof = email_proofs.start_email_proof(request_id, current_principal(), body["address"])
    return {"email_proof": email_proof_dict(proof), "next": EMAIL_NEXT}


@bp.route("/email-proofs/confirm", methods=["POST"])
@admits(PUBLIC)
@bp.arguments(EmailConfirmSchema)
@bp.response(200, EmailConfirmedSchema)
def confirm_email_proof(body):
    """Confirm an e-mailed link with the token it carries; works once, until it expires."""
    req, evidence = email_proofs.confirm_email_proof(body["token"])
    return {"request_id": req.id, "state": req.state, "evidence": evidence_dict(evidence)}
