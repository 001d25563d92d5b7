"""Free-text intake: propose requests from a message; create nothing.

The engine (the scope parser, plus the QA model when ``INTAKE_MODEL_DIR`` holds a usable
one) is loaded once per app and process, on first use. Proposals are returned to the caller
only: no Request row, no audit entry and no e-mail comes out of here, so nothing proposed
counts until a person submits it through ``POST /api/v1/requests`` and the owner confirms.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import threading

from flask import current_app

from server.errors import ApiError
from shared.intake import MAX_TEXT, Intake, load_intake
from shared.scope import ScopeError, normalize_host

GATEWAY_TOKEN_PREFIX = "optg_"  # noqa: S105 (a prefix, not a secret)
_lock = threading.Lock()


def engine() -> Intake:
    """Return this app's intake engine, loading the model on first use."""
    config = current_app.config
    key = (
        config["INTAKE_MODEL_DIR"],
        config["INTAKE_MODEL_VARIANT"],
        int(config["INTAKE_THREADS"]),
        int(config["INTAKE_MAX_ANSWER_TOKENS"]),
        float(config["INTAKE_NULL_THRESHOLD"]),
    )
    cache = current_app.extensions.setdefault("optout_intake", {})
    if key not in cache:
        with _lock:
            if key not in cache:
                cache.clear()
                cache[key] = load_intake(*key)
    return cache[key]


def propose_from_text(text: str, default_host: str | None = None) -> dict:
    """Return the proposals for one message (nothing is stored).

    Spans are offsets into ``text`` exactly as sent (blanks around it included).
    """
    if not text.strip():
        raise ApiError(422, "empty_text", "the message is empty", {"field": "text"})
    if len(text) > MAX_TEXT:
        raise ApiError(
            422,
            "text_too_long",
            f"a message is limited to {MAX_TEXT} characters",
            {"field": "text", "limit": MAX_TEXT},
        )
    if default_host is not None:
        try:
            default_host = normalize_host(default_host)
        except ScopeError as error:
            raise ApiError(422, error.code, error.message, {"field": "default_host"}) from None
    return engine().run(text, default_host)


def text_of_email(raw: str) -> str:
    """Return the subject and the plain-text body of an RFC 5322 message."""
    message = email.message_from_string(raw, policy=email.policy.default)
    body = message.get_body(preferencelist=("plain",))
    if body is None:
        raise ApiError(
            422, "email_without_text", "the e-mail has no text/plain part", {"field": "email"}
        )
    try:
        content = body.get_content()
    except (LookupError, ValueError) as error:
        raise ApiError(
            422, "email_undecodable", f"the e-mail body: {error}", {"field": "email"}
        ) from None
    subject = str(message.get("Subject") or "").strip()
    return f"{subject}\n\n{content}" if subject else content


def check_gateway_token(token: str | None) -> None:
    """Admit the mail gateway by its shared secret; refuse everyone else."""
    digest = current_app.config.get("INTAKE_GATEWAY_TOKEN_SHA256")
    if not digest:
        raise ApiError(404, "intake_gateway_disabled", "the mail gateway is not configured")
    given = hashlib.sha256((token or "").encode()).hexdigest()
    if not token or not hmac.compare_digest(given, str(digest).strip().lower()):
        raise ApiError(
            401,
            "invalid_gateway_token",
            "the X-Optout-Gateway-Token header is missing or wrong",
        )
