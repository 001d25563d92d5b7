"""Rate limits on submissions, shared by the web form and the JSON API (flask-limiter).

Storage is in memory by default (per worker process); set ``OPTOUT_RATELIMIT_STORAGE_URI``
to ``redis://host:6379`` so that every worker and every machine counts together.
"""

from __future__ import annotations

from flask import Flask, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from werkzeug.middleware.proxy_fix import ProxyFix


def _client_key() -> str:
    # The namespace comes from the current app's config on every call: the Limiter object
    # is module-wide and keeps some settings of the first app it was given.
    return f"{current_app.config['RATELIMIT_NAMESPACE']}:{get_remote_address()}"


limiter = Limiter(key_func=_client_key)


def _submission_limit() -> str:
    return current_app.config["SUBMIT_RATE_LIMIT"]


# One shared budget per client for every way of submitting a request.
submissions = limiter.shared_limit(_submission_limit, scope="submissions", methods=["POST"])


def _lookup_limit() -> str:
    return current_app.config["LOOKUP_RATE_LIMIT"]


# Look-ups are public; a budget per client keeps the catalog from being scraped wholesale.
lookups = limiter.shared_limit(_lookup_limit, scope="lookups")


def init_app(app: Flask) -> None:
    proxies = int(app.config["TRUSTED_PROXIES"])
    if proxies:
        # Only trust X-Forwarded-For from as many proxies as the operator says exist.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    limiter.init_app(app)
