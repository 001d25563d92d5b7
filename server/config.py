"""Configuration: defaults, then ``config.toml`` in the instance folder, then ``OPTOUT_*``."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from flask import Flask

DEFAULTS = {
    # Request bodies larger than this are refused with 413 before they are parsed.
    "MAX_CONTENT_LENGTH": 64 * 1024,
    "PAGE_SIZE_MAX": 200,
    "DB_POOL_SIZE": 8,
    "DB_BUSY_TIMEOUT_MS": 10_000,
    "ORIGIN": "optout.localhost/audit",
    "API_TITLE": "Optout",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
}


def instance_path() -> Path:
    """Return the absolute instance folder: ``OPTOUT_INSTANCE`` or ``./instance``."""
    return Path(os.environ.get("OPTOUT_INSTANCE", "instance")).resolve()


def load_config(app: Flask, overrides: dict | None = None) -> None:
    """Fill ``app.config`` from defaults, the instance file, the environment and overrides."""
    instance = Path(app.instance_path)
    app.config.update(DEFAULTS)
    app.config["DATABASE_URL"] = f"sqlite:///{instance / 'optout.db'}"
    app.config["SIGNING_KEY_FILE"] = str(instance / "signing.key")
    config_file = instance / "config.toml"
    if config_file.is_file():
        with config_file.open("rb") as fh:
            app.config.update({k.upper(): v for k, v in tomllib.load(fh).items()})
    app.config.from_prefixed_env("OPTOUT")
    if overrides:
        app.config.update(overrides)
