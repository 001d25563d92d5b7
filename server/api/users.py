"""Reviewer accounts (admin only)."""

from __future__ import annotations

from server.api.blueprint import Blueprint
from server.auth import admits, current_principal
from server.schemas import RevokeSchema, UserCreatedSchema, UserCreateSchema, UserSchema
from server.serialize import user_dict
from server.workflows import users as workflow
from shared.states import ADMIN

bp = Blueprint("users", __name__, description="Reviewer accounts")


@bp.route("/users", methods=["GET"])
@admits(ADMIN)
@bp.response(200, UserSchema(many=True))
def list_users():
    """List accounts, revoked ones included."""
    return [user_dict(u) for u in workflow.list_users()]


@bp.route("/users", methods=["POST"])
@admits(ADMIN)
@bp.arguments(UserCreateSchema)
@bp.response(201, UserCreatedSchema)
def add_user(body):
    """Create an account; its token is in this response and nowhere else."""
    user, token = workflow.add_user(body["name"], body["role"], current_principal().actor)
    return {"user": user_dict(user), "token": token}


@bp.route("/users/<string:name>/revoke", methods=["POST"])
@admits(ADMIN)
@bp.arguments(RevokeSchema)
@bp.response(200, UserSchema)
def revoke_user(body, name):
    """Revoke an account's token at once."""
    user = workflow.revoke_user(name, current_principal().actor, body.get("reason"))
    return user_dict(user)
