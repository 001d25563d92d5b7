"""The database: a proxy bound from a URL in the app factory, opened around each request."""

from __future__ import annotations

import contextlib
from urllib.parse import urlparse

from flask import Flask
from peewee import Database, DatabaseProxy, PostgresqlDatabase, SqliteDatabase
from playhouse.db_url import connect as connect_url
from playhouse.pool import PooledPostgresqlDatabase

db = DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "normal",  # durable against process crashes in WAL mode
    "foreign_keys": 1,
    "cache_size": -16_000,
}


def open_database(url: str, busy_timeout_ms: int = 10_000, pool_size: int = 8) -> Database:
    """Return an (unconnected) database for a ``sqlite:///`` or ``postgresql://`` URL."""
    scheme = urlparse(url).scheme
    if scheme in ("postgres", "postgresql"):
        # Connections are pooled per process: a fresh connection costs milliseconds.
        url = url.replace(scheme + "://", "postgresql+pool://", 1)
        return connect_url(url, max_connections=pool_size, stale_timeout=300)
    if scheme in ("postgres+pool", "postgresql+pool"):
        return connect_url(url)
    if scheme == "sqlite":
        if url in ("sqlite://", "sqlite:///:memory:"):
            raise ValueError("an in-memory SQLite database cannot be shared; use a file")
        pragmas = dict(SQLITE_PRAGMAS, busy_timeout=busy_timeout_ms)
        # IMMEDIATE takes the write lock at BEGIN, so concurrent writers queue instead of
        # failing with "database is locked" on upgrade from a read lock.
        return connect_url(
            url, pragmas=pragmas, lock_type="IMMEDIATE", timeout=busy_timeout_ms / 1000
        )
    raise ValueError(
        f"unsupported database URL scheme {scheme!r} (use sqlite:/// or postgresql://)"
    )


def is_postgres(database: Database | None = None) -> bool:
    target = database or db.obj
    return isinstance(target, PostgresqlDatabase | PooledPostgresqlDatabase)


def is_sqlite(database: Database | None = None) -> bool:
    return isinstance(database or db.obj, SqliteDatabase)


def bind(url: str, **options) -> Database:
    """Open the database at ``url`` and bind the global proxy to it."""
    database = open_database(url, **options)
    db.initialize(database)
    return database


def init_app(app: Flask) -> None:
    """Bind the database from the app's config and open/close it around each request."""
    bind(
        app.config["DATABASE_URL"],
        busy_timeout_ms=app.config["DB_BUSY_TIMEOUT_MS"],
        pool_size=app.config["DB_POOL_SIZE"],
    )

    @app.before_request
    def _connect() -> None:
        db.connect(reuse_if_open=True)

    @app.teardown_request
    def _close(_exc: BaseException | None) -> None:
        if not db.is_closed():
            db.close()


@contextlib.contextmanager
def connection():
    """Hold a connection open for a block of CLI work."""
    opened = db.connect(reuse_if_open=True)
    try:
        yield db
    finally:
        if opened and not db.is_closed():
            db.close()
