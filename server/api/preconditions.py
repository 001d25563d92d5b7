"""What several API modules share: ETag / If-Match handling and per-endpoint body limits."""

from __future__ import annotations

from flask import request

from server.errors import ApiError


def required_if_match(what: str) -> set[str]:
    """The strong ETags of If-Match; acting without naming a version is refused (428)."""
    if_match = request.if_match.as_set()
    if not if_match:
        raise ApiError(428, "precondition_required",
                       f"send If-Match with the ETag of the {what} you are acting on")
    return if_match


def etag_header(data: dict) -> dict:
    return {"ETag": f'"{data["etag"]}"'}


def body_limit(config_key: str):
    """Let a view accept bodies up to ``config[config_key]`` bytes instead of the app's cap."""

    def decorator(view):
        view._body_limit_config = config_key
        return view

    return decorator
