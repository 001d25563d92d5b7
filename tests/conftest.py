"""Fixtures: a fresh migrated database per test (SQLite file and PostgreSQL schema), the app,
a real HTTP server on loopback, and clients for each role.

Every test that uses ``app`` runs once per backend in ``OPTOUT_TEST_DATABASES``
(default: ``sqlite,postgresql``). PostgreSQL is the server on 127.0.0.1:5432, database
``test``; each test gets its own schema, made by the migrations and dropped afterwards.
"""

from __future__ import annotations

import os
import threading
import uuid

import psycopg2
import pytest
from werkzeug.serving import make_server

from shared.client import OptoutClient
from tests.factories import Factory

PG_DSN = os.environ.get("OPTOUT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = [
    b.strip()
    for b in os.environ.get("OPTOUT_TEST_DATABASES", "sqlite,postgresql").split(",")
    if b.strip()
]


def _pg_admin():
    conn = psycopg2.connect(PG_DSN)
    conn.autocommit = True
    return conn


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path):
    """An empty database: a fresh SQLite file or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'optout.db'}"
        return
    schema = "t_" + uuid.uuid4().hex[:16]
    with _pg_admin() as conn, conn.cursor() as cur:
        cur.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG_DSN}?options=-csearch_path%3D{schema}"
    finally:
        with _pg_admin() as conn, conn.cursor() as cur:
            cur.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def instance(tmp_path, monkeypatch):
    path = tmp_path / "instance"
    monkeypatch.setenv("OPTOUT_INSTANCE", str(path))
    return path


@pytest.fixture
def app(database_url, instance):
    """The app on a migrated database (migrations are the only way the schema is made)."""
    from server import create_app
    from server.db import db
    from server.migrate import upgrade
    from shared.keys import create_private_key

    create_private_key(instance / "signing.key")
    application = create_app({"TESTING": True, "DATABASE_URL": database_url,
                              "RATELIMIT_ENABLED": False})
    upgrade(db.obj)
    with application.app_context():
        yield application
    if hasattr(db.obj, "close_all"):
        db.obj.close_all()
    elif not db.is_closed():
        db.close()


@pytest.fixture
def live_server(app):
    """Serve the app on a free loopback port from a thread; yield its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


@pytest.fixture
def factory(app):
    return Factory()


@pytest.fixture
def api(live_server):
    """Return a function making an API client for a token (None: anonymous)."""
    clients = []

    def make(token: str | None = None) -> OptoutClient:
        client = OptoutClient(live_server, token)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.session.close()
