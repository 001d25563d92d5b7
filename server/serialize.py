"""Turn models into the plain dicts the API schemas describe."""

from __future__ import annotations

import datetime as dt

from server.auth import Principal
from server.errors import ApiError
from server.models import Request, RequestEvent, User, utcnow
from server.workflows.email_proofs import mask_address
from server.workflows.proofs import candidate_urls, challenge_path
from server.workflows.requests import etag_of, history
from shared import states
from shared.scope import Scope


def request_dict(req: Request, principal: Principal | None, with_history: bool = False) -> dict:
    scope = Scope(req.kind, req.host, req.owner, req.name, req.path, req.line, req.content_sha256)
    role = principal.role if principal else states.OWNER
    data = {
        field: getattr(req, field)
        for field in (
            "id",
            "kind",
            "state",
            "host",
            "owner",
            "name",
            "path",
            "line",
            "content_sha256",
            "notes",
            "version",
            "published_in",
            "created_at",
            "updated_at",
        )
    }
    data["created_at"], data["updated_at"] = as_utc(req.created_at), as_utc(req.updated_at)
    data["reinclusion_requested_at"] = as_utc(req.reinclusion_requested_at)
    data["scope"] = scope.describe()
    data["etag"] = etag_of(req)
    data["allowed_transitions"] = states.targets_from(req.state, role)
    if with_history:
        data["history"] = [event_dict(e) for e in history(req)]
        if req.kind == "license":
            from server.serialize_licenses import request_license_dict  # it imports this module

            data["license_verdict"] = request_license_dict(req)
    return data


def event_dict(event: RequestEvent) -> dict:
    return {
        "from_state": event.from_state,
        "to_state": event.to_state,
        "actor": event.actor,
        "actor_role": event.actor_role,
        "reason": event.reason,
        "created_at": as_utc(event.created_at),
    }


def user_dict(user: User) -> dict:
    return {
        "id": user.id,
        "name": user.name,
        "role": user.role,
        "created_at": as_utc(user.created_at),
        "revoked_at": as_utc(user.revoked_at),
    }


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """Stored times are naive UTC; say so on the way out."""
    if value is None:
        return None
    if isinstance(value, str):  # SQLite hands back text when a value was stored raw
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC)


def challenge_dict(challenge, req: Request) -> dict:
    """A challenge with where to put it and which URLs the server will look at."""
    try:
        urls = candidate_urls(req, challenge.account)
    except ApiError:  # the host's template was removed from the configuration since
        urls = []
    path = challenge_path()
    return {
        "id": challenge.id,
        "account": challenge.account,
        "token": challenge.token,
        "path": path,
        "urls": urls,
        "instructions": (
            f"Commit a file {path} whose content is the line {challenge.token} to the default "
            f"branch of one of the repositories these URLs point into, then ask for a check: "
            + ", ".join(urls)
        ),
        "created_at": as_utc(challenge.created_at),
        "expires_at": as_utc(challenge.expires_at),
        "expired": challenge.verified_at is None and challenge.expires_at <= utcnow(),
        "verified_at": as_utc(challenge.verified_at),
        "verified_url": challenge.verified_url,
    }


def evidence_dict(evidence) -> dict:
    return {
        "id": evidence.id,
        "method": evidence.method,
        "account": evidence.account,
        "detail": evidence.detail,
        "actor": evidence.actor,
        "created_at": as_utc(evidence.created_at),
    }


def email_proof_dict(proof) -> dict:
    """An e-mailed link as its owner and reviewers see it: the address masked."""
    return {
        "id": proof.id,
        "address": mask_address(proof.address),
        "created_at": as_utc(proof.created_at),
        "expires_at": as_utc(proof.expires_at),
        "verified_at": as_utc(proof.verified_at),
    }
