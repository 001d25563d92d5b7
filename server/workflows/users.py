"""Reviewer accounts: add (the token is returned once), list, revoke."""

from __future__ import annotations

import re

from server.audit import record_action
from server.auth import REVIEWER_TOKEN_PREFIX, hash_token, new_token
from server.db import db
from server.errors import ApiError, not_found
from server.models import User, utcnow
from shared.states import ADMIN, USER_ROLES

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def add_user(name: str, role: str, actor: str) -> tuple[User, str]:
    """Create an account and return it with its token, which is never shown again."""
    name = name.strip().lower()
    if not _NAME.match(name):
        raise ApiError(
            422,
            "invalid_user_name",
            "a user name is 1-64 lower-case letters, digits, '.', '_' or '-'",
            {"field": "name"},
        )
    if role not in USER_ROLES:
        raise ApiError(
            422, "invalid_role", f"role must be one of {', '.join(USER_ROLES)}", {"field": "role"}
        )
    token = new_token(REVIEWER_TOKEN_PREFIX)
    with db.atomic():
        if User.select().where(User.name == name).exists():
            raise ApiError(409, "user_exists", f"a user named {name!r} already exists")
        user = User.create(name=name, role=role, token_hash=hash_token(token))
        record_action(actor, "user.added", f"user:{user.id}", details={"role": role})
    return user, token


def list_users() -> list[User]:
    return list(User.select().order_by(User.name))


def revoke_user(name: str, actor: str, reason: str | None = None) -> User:
    """Revoke an account's token; the account stays for the history that names it."""
    with db.atomic():
        user = User.get_or_none(User.name == name.strip().lower())
        if user is None:
            raise not_found("user", name)
        if user.revoked_at is not None:
            raise ApiError(409, "already_revoked", f"the user {user.name!r} is already revoked")
        if user.role == ADMIN and _active_admins() == 1:
            raise ApiError(
                409, "last_admin", "this is the last active admin; add another admin first"
            )
        user.revoked_at = utcnow()
        user.save()
        record_action(actor, "user.revoked", f"user:{user.id}", reason)
    return user


def _active_admins() -> int:
    return User.select().where((User.role == ADMIN) & User.revoked_at.is_null()).count()


def has_admin() -> bool:
    return _active_admins() > 0
