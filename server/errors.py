"""One error type, one JSON envelope: ``{"error": {"code", "message", "details"}}``.

Codes are stable and machine readable; messages are for people. Every HTTP error, whether
raised by our services, by Flask/werkzeug or by request parsing, leaves through here.
"""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from peewee import InterfaceError, OperationalError
from playhouse.pool import MaxConnectionsExceeded
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

# Stable codes for werkzeug's own HTTP errors.
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    428: "precondition_required",
    429: "rate_limited",
    500: "internal_error",
}


class ApiError(Exception):
    """A refusal with an HTTP status, a stable code, a message and optional details."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict | None = None,
        headers: dict | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.headers = headers or {}

    def response(self):
        body = {"error": {"code": self.code, "message": self.message, "details": self.details}}
        resp = jsonify(body)
        resp.status_code = self.status
        resp.headers.update(self.headers)
        return resp


def not_found(what: str, key: object) -> ApiError:
    return ApiError(404, "not_found", f"{what} {key} does not exist")


def from_http_exception(error: HTTPException) -> ApiError:
    """Translate a werkzeug/webargs HTTP error into an ApiError."""
    status = error.code or 500
    code = HTTP_CODES.get(status, "http_error")
    message = (error.description or error.name or "error").strip()
    details: dict = {}
    data = getattr(error, "data", None) or {}
    headers = dict(data.get("headers") or {})
    if status == 405 and error.valid_methods:  # type: ignore[attr-defined]
        headers["Allow"] = ", ".join(error.valid_methods)  # type: ignore[attr-defined]
    messages = data.get("messages")
    if status == 400 and messages and "Invalid JSON body." in str(messages):
        code, message = "invalid_json", "the request body is not valid JSON"
    elif messages:
        details["fields"] = messages
        message = "the request does not match the schema; see details.fields"
    if status == 413:
        message = "the request body is larger than this endpoint accepts"
    return ApiError(status, code, message, details, headers)


def respond(error: ApiError):
    """JSON envelope under /api/, an HTML page for the owners' web pages."""
    if request.path.startswith("/api/"):
        return error.response()
    html = render_template("error.html", error=error)
    return html, error.status, error.headers


def init_app(app: Flask) -> None:
    app.register_error_handler(ApiError, respond)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        if isinstance(error, HTTPException):
            return respond(from_http_exception(error))
        if isinstance(error, OperationalError | InterfaceError | MaxConnectionsExceeded):
            # The database is down, unreachable, or busy beyond every timeout: say so, and
            # that trying again later may work. Nothing was stored (the transaction failed).
            # The driver's first line says why ("no such table", "connection refused", a
            # timeout) without a traceback; drivers do not echo passwords or bound values.
            first = str(error).splitlines()[0] if str(error) else ""
            log.error("database unavailable: %s: %s", type(error).__name__, first[:200])
            return respond(ApiError(503, "database_unavailable",
                                    "the database is unavailable; try again later",
                                    headers={"Retry-After": "5"}))
        log.exception("unhandled error")
        return respond(ApiError(500, "internal_error", "the server failed; the error was logged"))
