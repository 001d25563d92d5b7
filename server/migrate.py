"""Apply the numbered migrations in ``migrations/``: idempotent, in one transaction, locked."""

from __future__ import annotations

from pathlib import Path

from peewee import Database
from playhouse.migrations import Runner

import migrations
from server.db import is_postgres

MIGRATIONS_DIR = Path(migrations.__file__).resolve().parent
HISTORY_TABLE = "schema_migration"
# Any fixed 64-bit number: only migration runs take this advisory lock.
_PG_LOCK_KEY = 0x0F7_0A7


def runner(database: Database) -> Runner:
    return Runner(database, str(MIGRATIONS_DIR), table_name=HISTORY_TABLE)


def pending(database: Database) -> list[str]:
    """Return the names of migrations not yet applied."""
    return [m.name for m in runner(database).status() if not m.applied and m.path]


def upgrade(database: Database) -> list[str]:
    """Apply every pending migration and return their names.

    All of them run in one transaction that holds a lock, so concurrent upgrades (two
    deploys, two workers) apply each migration exactly once, and a failing migration
    leaves the schema as it was.
    """
    with database.connection_context(), database.atomic():
        if is_postgres(database):
            database.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_PG_LOCK_KEY,))
        # On SQLite the transaction began IMMEDIATE, which already holds the write lock.
        return runner(database).up()
