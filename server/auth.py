"""Bearer-token authentication and the per-endpoint role declaration ``@admits``.

Two kinds of token exist. Reviewer tokens (``optr_…``) belong to a ``User`` with a role.
Status tokens (``opts_…``) are handed to an owner in the receipt of a request and act with
the pseudo-role ``owner`` on that one request only. Both are stored as SHA-256 digests:
they are 256-bit random values, so a plain digest cannot be brute-forced.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from flask import g, request
from flask_smorest import Blueprint

from server.errors import ApiError
from shared.states import OWNER, USER_ROLES

REVIEWER_TOKEN_PREFIX = "optr_"  # noqa: S105 (a prefix, not a secret)
STATUS_TOKEN_PREFIX = "opts_"  # noqa: S105
PUBLIC = "public"


def new_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who is calling: a reviewer account, or the owner holding one request's status token."""

    role: str
    name: str
    user_id: int | None = None
    request_id: int | None = None

    @property
    def actor(self) -> str:
        """The reference written to history and audit: never a token, never an e-mail."""
        if self.user_id is not None:
            return f"user:{self.user_id}"
        return f"owner:request:{self.request_id}"


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate() -> Principal | None:
    """Resolve the bearer token to a principal, or None when there is no token."""
    from server.models import User  # models need the db proxy bound

    token = _bearer_token()
    if token is None:
        if "Authorization" in request.headers:
            raise ApiError(
                401, "invalid_token", "the Authorization header must be 'Bearer <token>'"
            )
        return None
    digest = hash_token(token)
    if token.startswith(STATUS_TOKEN_PREFIX):
        owner = owner_principal(token)
        if owner is not None:
            return owner
    else:
        user = User.get_or_none(User.token_hash == digest)
        if user is not None and user.revoked_at is None:
            return Principal(user.role, user.name, user_id=user.id)
    raise ApiError(
        401,
        "invalid_token",
        "the token is unknown or has been revoked",
        headers={"WWW-Authenticate": 'Bearer realm="optout"'},
    )


def owner_principal(status_token: str) -> Principal | None:
    """Return the owner principal of the request this status token belongs to, if any."""
    from server.models import Request

    if not status_token.startswith(STATUS_TOKEN_PREFIX) or len(status_token) > 100:
        return None
    digest = hash_token(status_token)
    found = Request.get_or_none(Request.status_token_hash == digest)
    if found is None or not hmac.compare_digest(found.status_token_hash, digest):
        return None
    return Principal(OWNER, "owner", request_id=found.id)


def admits(*roles: str):
    """Declare the roles an endpoint admits and enforce them before the view runs.

    ``PUBLIC`` admits anyone, with or without a token. The declaration is kept on the view
    (``view._admits``) so the role-matrix test and the OpenAPI spec can read it.
    """
    unknown = set(roles) - {PUBLIC, OWNER, *USER_ROLES}
    if unknown or not roles:
        raise ValueError(f"unknown roles {unknown}")

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            principal = authenticate()
            g.principal = principal
            if PUBLIC not in roles:
                if principal is None:
                    raise ApiError(
                        401,
                        "unauthorized",
                        "this endpoint needs a bearer token",
                        headers={"WWW-Authenticate": 'Bearer realm="optout"'},
                    )
                if principal.role not in roles:
                    raise ApiError(
                        403,
                        "forbidden",
                        f"the role {principal.role!r} may not use this endpoint",
                        {"admits": sorted(roles)},
                    )
            return view(*args, **kwargs)

        wrapper._admits = frozenset(roles)
        security = [] if PUBLIC in roles else [{"bearer": []}]
        described = Blueprint.doc(security=security, **{"x-roles": sorted(roles)})(wrapper)
        described._admits = wrapper._admits
        return described

    return decorator


def current_principal() -> Principal | None:
    return g.get("principal")
