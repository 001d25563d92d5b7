"""Optout server: the Flask application factory."""

from __future__ import annotations

import os

from flask import Flask

from server import config


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: config from the instance folder and ``OPTOUT_*``, database, API."""
    app = Flask(__name__, instance_path=str(config.instance_path()), instance_relative_config=True)
    os.makedirs(app.instance_path, mode=0o700, exist_ok=True)
    config.load_config(app, test_config)

    from server import api, db, errors, limits, web

    errors.init_app(app)
    db.init_app(app)
    limits.init_app(app)
    api.init_app(app)
    web.init_app(app)
    return app
