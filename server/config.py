"""Configuration: defaults, then ``config.toml`` in the instance folder, then ``OPTOUT_*``."""

from __future__ import annotations

import copy
import os
import secrets
import time
import tomllib
from pathlib import Path

from flask import Flask

DEFAULTS = {
    # Request bodies larger than this are refused with 413 before they are parsed.
    "MAX_CONTENT_LENGTH": 64 * 1024,
    # ... except bulk ingestion of license scans (POST /api/v1/licenses/scans).
    "LICENSE_SCANS_MAX_CONTENT_LENGTH": 8 * 1024 * 1024,
    # ... and of PII findings with their context (POST /api/v1/pii/findings).
    "PII_FINDINGS_MAX_CONTENT_LENGTH": 8 * 1024 * 1024,
    # PII context encryption key (URL-safe base64 of 32 bytes); None: instance/pii.key.
    "PII_CONTEXT_KEY": None,
    "PII_CONTEXT_KEY_FILE": None,
    # The pipelines' fingerprint key (OPTOUT_PII_KEY there); when set, ingestion checks
    # every finding's fingerprint against its value. None: fingerprints are taken as sent.
    "PII_FINGERPRINT_KEY": None,
    "PAGE_SIZE_MAX": 200,
    # PostgreSQL connections per process; `optout serve` raises it to its threads + 2.
    "DB_POOL_SIZE": 8,
    # Seconds between the audit sequencer's passes in each server process (see
    # server/sequencer.py); 0 turns it off and every append takes the log's lock at once.
    "AUDIT_SEQUENCE_INTERVAL": 0.1,
    "DB_BUSY_TIMEOUT_MS": 10_000,
    "ORIGIN": "optout.localhost/audit",
    "API_TITLE": "Optout",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
    # Owners' web pages and submissions.
    "DEFAULT_HOST": "github.com",
    "KNOWN_HOSTS": ["github.com", "gitlab.com", "bitbucket.org", "codeberg.org"],
    "SUBMIT_RATE_LIMIT": "20 per hour;5 per minute",
    "LOOKUP_RATE_LIMIT": "300 per hour;60 per minute",
    "RATELIMIT_ENABLED": True,  # set explicitly: the limiter keeps the last app's value
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_HEADERS_ENABLED": True,
    "RATELIMIT_NAMESPACE": "optout",
    "TRUSTED_PROXIES": 0,  # how many reverse proxies set X-Forwarded-For in front of us
    "WTF_CSRF_TIME_LIMIT": 6 * 3600,
    # Publish salted hashes of identifiers instead of names (the salt is in the manifest).
    "EXCLUSIONS_PRIVACY": False,
    # Proof of authority (server/workflows/proofs.py). Raw-file URL of a file in a
    # repository, per forge host; {owner}, {name} and {path} are filled in. A host without a
    # template cannot use challenge files.
    "RAW_URL_TEMPLATES": {
        "github.com": "https://raw.githubusercontent.com/{owner}/{name}/HEAD/{path}",
        "gitlab.com": "https://gitlab.com/{owner}/{name}/-/raw/HEAD/{path}",
        "codeberg.org": "https://codeberg.org/{owner}/{name}/raw/branch/main/{path}",
        "bitbucket.org": "https://bitbucket.org/{owner}/{name}/raw/HEAD/{path}",
    },
    # Names of an account's profile repositories, tried in order ({owner}: the account).
    "PROFILE_REPOSITORIES": ["{owner}", ".github"],
    "CHALLENGE_PATH": ".well-known/optout-challenge.txt",
    "CHALLENGE_TTL_HOURS": 72,
    "FETCH_TIMEOUT": 10,
    "FETCH_MAX_BYTES": 65536,
    # Loopback, private and link-local addresses are refused unless this is true (tests).
    "FETCH_ALLOW_PRIVATE": False,
    "FETCH_CA_BUNDLE": None,  # a CA bundle file for the fetcher; None: the system's
    # E-mailed links: off while SMTP_HOST is None.
    "SMTP_HOST": None,
    "SMTP_PORT": 587,
    "SMTP_FROM": "optout@localhost",
    "SMTP_STARTTLS": True,
    "SMTP_SSL": False,
    "SMTP_USER": None,
    "SMTP_PASSWORD": None,
    "SMTP_TIMEOUT": 10,
    "EMAIL_PROOF_TTL_HOURS": 24,
    "PUBLIC_URL": "http://127.0.0.1:8000",  # base of the links sent by e-mail
    # Free-text intake (POST /api/v1/intake): a model directory written by 'optout intake
    # export'; None: the scope parser works alone and every answer says so.
    "INTAKE_MODEL_DIR": None,
    "INTAKE_MODEL_VARIANT": "int8",  # or "fp32"
    "INTAKE_THREADS": 1,  # ONNX Runtime threads per worker process
    "INTAKE_NULL_THRESHOLD": 0.0,  # answer only when span score - null score exceeds this
    "INTAKE_MAX_ANSWER_TOKENS": 30,
    # The mail gateway's shared secret, stored as its SHA-256 (hex); None: gateway off.
    "INTAKE_GATEWAY_TOKEN_SHA256": None,
    "INTAKE_GATEWAY_RATE_LIMIT": "600 per hour;30 per minute",
}


def instance_path() -> Path:
    """Return the absolute instance folder: ``OPTOUT_INSTANCE`` or ``./instance``."""
    return Path(os.environ.get("OPTOUT_INSTANCE", "instance")).resolve()


def load_config(app: Flask, overrides: dict | None = None) -> None:
    """Fill ``app.config`` from defaults, the instance file, the environment and overrides."""
    instance = Path(app.instance_path)
    app.config.update(copy.deepcopy(DEFAULTS))  # apps must not share (and mutate) one dict
    app.config["DATABASE_URL"] = f"sqlite:///{instance / 'optout.db'}"
    app.config["SIGNING_KEY_FILE"] = str(instance / "signing.key")
    config_file = instance / "config.toml"
    if config_file.is_file():
        with config_file.open("rb") as fh:
            app.config.update({k.upper(): v for k, v in tomllib.load(fh).items()})
    app.config.from_prefixed_env("OPTOUT")
    if overrides:
        app.config.update(overrides)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = read_or_create_secret(instance / "secret_key")


def read_or_create_secret(path: Path) -> str:
    """Return the instance's session/CSRF secret, creating it (0600) on first use.

    Every worker process must share it, so it lives in a file; O_EXCL makes the first
    writer win when several workers start at once.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # another worker may be writing it right now
            secret = path.read_text().strip()
            if secret:
                return secret
            time.sleep(0.01)
        raise RuntimeError(f"{path} is empty; delete it to make a new secret") from None
    secret = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret)
    return secret
