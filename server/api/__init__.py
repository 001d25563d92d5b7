"""The JSON API under ``/api/v1``, documented by the OpenAPI spec flask-smorest builds."""

from __future__ import annotations

from flask import Flask, current_app, request
from flask_smorest import Api

from server.auth import PUBLIC, admits
from server.errors import ApiError, from_http_exception, respond
from server.schemas import ErrorSchema

_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class OptoutApi(Api):
    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error):
        return respond(from_http_exception(error))


def _apply_body_limit() -> None:
    """Give an endpoint marked with ``body_limit`` its own cap before anything reads the body."""
    view = current_app.view_functions.get(request.endpoint or "")
    key = getattr(view, "_body_limit_config", None)
    if key is not None:
        request.max_content_length = current_app.config[key]


def _require_json_body() -> None:
    """Refuse request bodies that are not JSON before any view parses them."""
    if request.method not in _BODY_METHODS or not request.path.startswith("/api/"):
        return
    has_body = (request.content_length or 0) > 0 or request.headers.get("Transfer-Encoding")
    if has_body and request.mimetype != "application/json":
        raise ApiError(
            415,
            "unsupported_media_type",
            "request bodies must be JSON (Content-Type: application/json)",
            {"content_type": request.mimetype or None},
        )


def _holds_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return _holds_nul(list(value.items()))
    if isinstance(value, list | tuple):
        return any(_holds_nul(v) for v in value)
    return False


def _refuse_nul_characters() -> None:
    """Refuse text holding NUL: PostgreSQL cannot store it, and no real input needs it."""
    texts = [request.path, *request.args.items(multi=True)]
    if request.mimetype == "application/json":
        # JSON can carry NUL only as the escape \u0000: a body without "u0000" needs no walk.
        if b"u0000" in request.get_data(cache=True):
            texts.append(request.get_json(silent=True))
    elif request.form:
        texts.extend(request.form.items(multi=True))
    if _holds_nul(texts):
        raise ApiError(422, "nul_character", "text must not contain NUL (U+0000) characters")


def init_app(app: Flask) -> Api:
    from server.api import (
        audit,
        catalog,
        exclusions,
        intake,
        licenses,
        meta,
        pii,
        proofs,
        requests,
        scopes,
        users,
    )

    api = OptoutApi(
        app,
        spec_kwargs={
            "info": {
                "description": "Opt-out requests, reviewer workflow and audit for code datasets."
            },
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        },
    )
    modules = (meta, requests, users, catalog, proofs, audit, scopes, licenses, exclusions, pii,
               intake)
    for module in modules:
        api.register_blueprint(module.bp, url_prefix="/api/v1")
    app.before_request(_apply_body_limit)  # first: the checks below read the body
    app.before_request(_require_json_body)
    app.before_request(_refuse_nul_characters)
    # The spec itself is public; declare it like every other endpoint.
    name = "api-docs.openapi_json"
    app.view_functions[name] = admits(PUBLIC)(app.view_functions[name])
    return api
