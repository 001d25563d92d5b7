"""Service health and the caller's identity."""

from __future__ import annotations

from server.api.blueprint import Blueprint
from server.auth import PUBLIC, admits, current_principal
from server.schemas import HealthSchema, MeSchema
from shared.states import OWNER, USER_ROLES

bp = Blueprint("meta", __name__, description="Service health and identity")


@bp.route("/health")
@admits(PUBLIC)
@bp.response(200, HealthSchema)
def health():
    """Report that the service is up and reaches its database.

    Every request checks a connection out first (on PostgreSQL the pool pings it); when the
    database does not answer, this and every other endpoint say 503 database_unavailable.
    """
    return {"status": "ok"}


@bp.route("/me")
@admits(OWNER, *USER_ROLES)
@bp.response(200, MeSchema)
def me():
    """Return the name and role that the bearer token stands for."""
    principal = current_principal()
    return {"name": principal.name, "role": principal.role}
