"""Owner-facing HTML pages: no JavaScript needed, CSRF-protected, accessible."""

from __future__ import annotations

from flask import Flask, request
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()

SECURITY_HEADERS = {
    # Status links carry a secret: never send it on to another site.
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; form-action 'self'; frame-ancestors 'none'",
}


def init_app(app: Flask) -> None:
    from server.web import owners

    # API views authenticate with bearer tokens, not cookies; only the pages need CSRF.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf.init_app(app)
    app.register_blueprint(owners.bp)

    @app.after_request
    def _headers(response):
        if not request.path.startswith("/api/"):
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
        if request.path.startswith("/status") or request.path == "/requests/new":
            response.headers["Cache-Control"] = "no-store"  # pages that show a status link
        return response
