"""The database: a proxy bound from a URL in the app factory, opened around each request."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from urllib.parse import urlparse

from flask import Flask
from peewee import Database, DatabaseProxy, PostgresqlDatabase, SqliteDatabase
from playhouse.db_url import connect as connect_url
from playhouse.db_url import parse as parse_url
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
        # A thread finding every connection in use waits for one (up to 10 s) instead of
        # failing; `optout serve` sizes the pool to its threads anyway (init_app).
        return connect_url(url, max_connections=pool_size, stale_timeout=300, timeout=10)
    if scheme in ("postgres+pool", "postgresql+pool"):
        return connect_url(url)
    if scheme == "sqlite":
        if url in ("sqlite://", "sqlite:///:memory:"):
            raise ValueError("an in-memory SQLite database cannot be shared; use a file")
        pragmas = dict(SQLITE_PRAGMAS, busy_timeout=busy_timeout_ms)
        # IMMEDIATE takes the write lock at BEGIN, so concurrent writers queue instead of
        # failing with "database is locked" on upgrade from a read lock.
        return QueuedWritersSqliteDatabase(
            parse_url(url)["database"], pragmas=pragmas, lock_type="IMMEDIATE",
            timeout=busy_timeout_ms / 1000,
        )
    raise ValueError(
        f"unsupported database URL scheme {scheme!r} (use sqlite:/// or postgresql://)"
    )


class QueuedWritersSqliteDatabase(SqliteDatabase):
    """SQLite whose transactions first queue on an exclusive ``flock`` of ``<file>.writelock``.

    SQLite lets a writer that finds the database locked sleep and retry (1, 2, 5 … 100 ms
    apart), so under contention an unlucky writer waits more than a second while others get
    through. Waiting in the kernel for a file lock instead hands the lock over as soon as it is
    free. Every process and thread using this class takes the file lock first (each thread
    through its own descriptor: flock locks belong to open files); anything else, like the
    ``sqlite3`` shell, still meets SQLite's own lock and busy timeout.
    """

    def __init__(self, database, *args, **kwargs):
        super().__init__(database, *args, **kwargs)
        self._writelock_path = f"{os.path.abspath(database)}.writelock"
        self._writelock = threading.local()

    def _lock_fd(self) -> int:
        fd = getattr(self._writelock, "fd", None)
        if fd is None:
            fd = os.open(self._writelock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._writelock.fd = fd
        return fd

    def _release(self) -> None:
        if getattr(self._writelock, "held", False):
            fcntl.flock(self._writelock.fd, fcntl.LOCK_UN)
            self._writelock.held = False

    def begin(self, lock_type=None):
        if not getattr(self._writelock, "held", False):
            fcntl.flock(self._lock_fd(), fcntl.LOCK_EX)  # releases the GIL while it waits
            self._writelock.held = True
        try:
            super().begin(lock_type)
        except BaseException:
            self._release()
            raise

    def commit(self):
        try:
            super().commit()
        finally:
            self._release()

    def rollback(self):
        try:
            super().rollback()
        finally:
            self._release()

    def _close(self, conn):
        try:
            super()._close(conn)
        finally:
            self._release()


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
        pool_size=max(app.config["DB_POOL_SIZE"], app.config.get("SERVER_THREADS", 0) + 2),
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
