"""Proof by e-mailed link: a single-use confirmation link mailed to an address the owner gives.

Receiving mail at an address proves control of that address, not of the account: whoever
submits a request chooses it. A confirmed link is therefore evidence for the reviewers (the
address masked), and does not move the request by itself. The address is kept only in
``EmailProof`` (deletable), never in the audit log; the token only as its digest.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets

from flask import current_app

from server.audit import record_action
from server.auth import Principal, hash_token
from server.db import db
from server.errors import ApiError
from server.mail import MailError, mail_enabled, send_mail
from server.models import EmailProof, Evidence, Request, utcnow
from server.workflows.proofs import locked_request, require_state, subject_of
from server.workflows.requests import get_request
from shared import states

EMAIL_TOKEN_PREFIX = "opte_"  # noqa: S105 (a prefix, not a secret)
MAX_EMAIL_PROOFS = 5
_ADDRESS = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)


def mask_address(address: str) -> str:
    """Show enough of an address for a reviewer to recognise its domain: ``j***@example.org``."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def _clean_address(address: str) -> str:
    address = (address or "").strip()
    local, _, domain = address.partition("@")
    address = f"{local}@{domain.lower()}"
    if len(address) > 254 or not _ADDRESS.fullmatch(address):
        raise ApiError(
            422, "invalid_address", "this is not an e-mail address", {"field": "address"}
        )
    return address


def _email_body(req: Request, link: str, expires: dt.datetime) -> str:
    return (
        "Someone asked Optout to record that this address belongs to the owner\n"
        f"behind opt-out request {req.id} ({req.host}/{req.owner}).\n\n"
        f"If that was you, open this link and confirm:\n\n{link}\n\n"
        f"The link works once, until {expires:%Y-%m-%d %H:%M} UTC.\n"
        "If it was not you, ignore this message.\n"
    )


def start_email_proof(request_id: int, principal: Principal, address: str) -> EmailProof:
    """Mail a single-use confirmation link to ``address`` and remember its digest.

    The mail is sent before anything is written: a failed send leaves no record.
    """
    if not mail_enabled():
        raise ApiError(
            409,
            "email_proof_disabled",
            "e-mailed links are not enabled on this server; place a challenge file or ask "
            "a reviewer to verify the request",
        )
    if principal.role != states.OWNER:
        raise ApiError(403, "forbidden", "only the request's owner asks for an e-mailed link")
    address = _clean_address(address)
    req = get_request(request_id, principal)
    require_state(req, states.CONFIRMED)
    if req.email_proofs.count() >= MAX_EMAIL_PROOFS:
        raise ApiError(
            409, "too_many_email_proofs", f"a request has at most {MAX_EMAIL_PROOFS} e-mailed links"
        )
    token = EMAIL_TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    expires = now + dt.timedelta(hours=float(current_app.config["EMAIL_PROOF_TTL_HOURS"]))
    link = f"{current_app.config['PUBLIC_URL'].rstrip('/')}/proof/email?t={token}"
    try:
        send_mail(address, f"Confirm your Optout request {req.id}", _email_body(req, link, expires))
    except MailError:
        raise ApiError(
            502, "email_send_failed", "the e-mail could not be sent; try again later"
        ) from None
    with db.atomic():
        req = locked_request(req.id)
        require_state(req, states.CONFIRMED)
        proof = EmailProof.create(
            request=req,
            address=address,
            token_hash=hash_token(token),
            created_at=now,
            expires_at=expires,
        )
        record_action(
            principal.actor, "proof.email_sent", subject_of(req), details={"email_proof": proof.id}
        )
    return proof


def confirm_email_proof(token: str) -> tuple[Request, Evidence]:
    """Use an e-mailed link once, before it expires: add its evidence to the request.

    Raises:
        ApiError: 404 unknown link, 409 ``email_proof_used``, 410 ``email_proof_expired``,
            409 ``invalid_state`` when the request is closed.
    """
    digest = hash_token((token or "").strip())
    with db.atomic():
        proof = EmailProof.get_or_none(EmailProof.token_hash == digest)
        if proof is None:
            raise ApiError(404, "not_found", "this link is unknown")
        req = locked_request(proof.request_id)
        proof = EmailProof.get_by_id(proof.id)  # re-read under the request's lock
        if proof.verified_at is not None:
            raise ApiError(409, "email_proof_used", "this link has been used already")
        now = utcnow()
        if proof.expires_at <= now:
            raise ApiError(410, "email_proof_expired", "this link has expired; ask for a new one")
        require_state(req, states.CONFIRMED, states.NEEDS_INFO, states.VERIFIED)
        proof.verified_at = now
        proof.save()
        actor = f"owner:request:{req.id}"
        evidence = Evidence.create(
            request=req,
            method="email",
            account=None,
            detail=f"e-mailed link confirmed at {mask_address(proof.address)}",
            actor=actor,
            created_at=now,
        )
        record_action(
            actor,
            "proof.email_confirmed",
            subject_of(req),
            details={"email_proof": proof.id, "evidence": evidence.id},
        )
    return req, evidence
