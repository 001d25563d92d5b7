"""Migrations are the only way the schema is made; they must give exactly what models say."""

from __future__ import annotations

import json

import pytest
from peewee import SqliteDatabase
from playhouse.schema_diff import diff_models

from server.db import db, is_postgres, open_database
from server.migrate import HISTORY_TABLE, pending, runner, upgrade
from server.models import MODELS


def _describe(database, tables):
    """Columns (name, type, null, pk), indexes and foreign keys of each table, comparable."""
    shape = {}
    for table in sorted(tables):
        lengths = _pg_lengths(database, table) if is_postgres(database) else {}
        columns = sorted(
            (c.name, c.data_type.lower(), lengths.get(c.name), c.null, c.primary_key)
            for c in database.get_columns(table)
        )
        indexes = sorted(
            (tuple(i.columns), i.unique)
            for i in database.get_indexes(table)
            if not i.name.endswith("_pkey")
        )
        fks = sorted(
            (f.column, f.dest_table, f.dest_column) for f in database.get_foreign_keys(table)
        )
        shape[table] = {"columns": columns, "indexes": indexes, "foreign_keys": fks}
    return shape


def _pg_lengths(database, table):
    """PostgreSQL reports 'character varying' without its length; ask for it."""
    cursor = database.execute_sql(
        "SELECT column_name, character_maximum_length FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = %s",
        (table,),
    )
    return dict(cursor.fetchall())


def _reference_schema(app, tmp_path):
    """The schema the models describe, made by peewee in a scratch database of the same kind."""
    if is_postgres():
        import uuid

        scratch_schema = "ref_" + uuid.uuid4().hex[:12]
        db.execute_sql(f"CREATE SCHEMA {scratch_schema}")
        url = (
            app.config["DATABASE_URL"].split("?")[0] + f"?options=-csearch_path%3D{scratch_schema}"
        )
        scratch = open_database(url)
        cleanup = lambda: db.execute_sql(f"DROP SCHEMA {scratch_schema} CASCADE")  # noqa: E731
    else:
        scratch = SqliteDatabase(str(tmp_path / "reference.db"))
        cleanup = lambda: None  # noqa: E731
    try:
        with scratch.bind_ctx(MODELS), scratch.connection_context():
            scratch.create_tables(MODELS)
            return _describe(scratch, [m._meta.table_name for m in MODELS])
    finally:
        scratch.close()
        if hasattr(scratch, "close_all"):
            scratch.close_all()
        cleanup()


def test_migrating_from_empty_gives_the_models_schema(app, tmp_path):
    assert not diff_models(db.obj, MODELS), str(diff_models(db.obj, MODELS))
    tables = set(db.get_tables())
    assert tables == {m._meta.table_name for m in MODELS} | {HISTORY_TABLE}
    migrated = _describe(db.obj, [m._meta.table_name for m in MODELS])
    assert migrated == _reference_schema(app, tmp_path)


def test_upgrade_is_idempotent_and_recorded(app):
    assert pending(db.obj) == []
    assert upgrade(db.obj) == []
    applied = [m.name for m in runner(db.obj).status() if m.applied]
    assert applied[0] == "0001_initial"


def test_failing_migration_changes_nothing(database_url, instance, tmp_path, monkeypatch):
    """A migration that fails halfway leaves no table and no history row behind."""
    import server.migrate as migrate_module

    broken_dir = tmp_path / "migrations"
    broken_dir.mkdir()
    (broken_dir / "0001_half.py").write_text(
        "from peewee import *\n"
        "def up(migrator, db):\n"
        "    db.execute_sql('CREATE TABLE half_done (id INTEGER PRIMARY KEY)')\n"
        "    raise RuntimeError('boom')\n"
    )
    monkeypatch.setattr(migrate_module, "MIGRATIONS_DIR", broken_dir)
    database = open_database(database_url)
    try:
        with pytest.raises(RuntimeError, match="boom"):
            upgrade(database)
        with database.connection_context():
            assert "half_done" not in database.get_tables()
            assert HISTORY_TABLE not in database.get_tables()
    finally:
        database.close()
        if hasattr(database, "close_all"):
            database.close_all()


def test_serve_refuses_pending_migrations(database_url, instance):
    from click.testing import CliRunner

    from server.cli import main

    result = CliRunner().invoke(
        main, ["serve", "--port", "0"], env={"OPTOUT_DATABASE_URL": database_url}
    )
    assert result.exit_code == 2
    assert "migration(s) pending" in result.output


def test_old_audit_records_become_the_first_log_entries(database_url, instance):
    """Migration 0003 turns the audit seam's old rows into log entries, in order."""
    import datetime as dt

    from server.db import bind
    from server.log_verify import verify_log
    from tests.audit_log import audit_records

    database = bind(database_url)
    try:
        with database.connection_context():
            with database.atomic():
                runner(database).up(target="0002_owners")
            when = dt.datetime(2026, 1, 2, 3, 4, 5)
            for i, reason in enumerate([None, "looked at it", None]):
                database.execute_sql(
                    "INSERT INTO audit_record (action, actor, subject, reason, details,"
                    " created_at) VALUES (%s, %s, %s, %s, %s, %s)".replace(
                        "%s", "%s" if is_postgres(database) else "?"),
                    (f"request.step{i}", "user:1", f"request:{i}", reason, json.dumps({"n": i}),
                     when + dt.timedelta(seconds=i)))
        assert upgrade(database)[0] == "0003_audit_log"
        with database.connection_context():
            assert "audit_record" not in database.get_tables()
            records = audit_records()
            assert [(r.action, r.subject, r.details, r.reason) for r in records] == [
                ("request.step0", "request:0", {"n": 0}, None),
                ("request.step1", "request:1", {"n": 1}, "looked at it"),
                ("request.step2", "request:2", {"n": 2}, None),
            ]
            assert records[0].time == "2026-01-02T03:04:05.000000Z"
            assert verify_log([], "unused").ok
    finally:
        database.close()
        if hasattr(database, "close_all"):
            database.close_all()
