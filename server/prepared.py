"""INSERT statements built once per model and column set, for the hottest write paths.

Peewee builds every query's SQL from an expression tree on each call: about a quarter of the
server's CPU on a submission went to building three INSERTs. ``insert`` writes a new model
instance exactly as ``instance.save()`` would (field defaults applied by the constructor,
values converted by each field's ``db_value``), with the statement text cached. Use it only
where a profile says so; everything else stays plain peewee.
"""

from __future__ import annotations

from peewee import AutoField, Model

from server.db import db, is_postgres

_statements: dict[tuple, tuple[str, tuple]] = {}


def _statement(model: type[Model], names: tuple[str, ...]) -> tuple[str, tuple]:
    backend = type(db.obj)
    key = (model, names, backend)
    cached = _statements.get(key)
    if cached is None:
        meta = model._meta
        fields = tuple(meta.fields[name] for name in names)
        open_q, close_q = db.obj.quote
        quoted = [f"{open_q}{f.column_name}{close_q}" for f in fields]
        sql = (f"INSERT INTO {open_q}{meta.table_name}{close_q} ({', '.join(quoted)}) "
               f"VALUES ({', '.join([db.obj.param] * len(fields))})")
        if is_postgres() and isinstance(meta.primary_key, AutoField):
            sql += f" RETURNING {open_q}{meta.primary_key.column_name}{close_q}"
        cached = _statements[key] = (sql, fields)
    return cached


def insert(instance: Model) -> Model:
    """INSERT ``instance`` as a new row, set its auto-incremented key, and return it."""
    meta = instance._meta
    pk = meta.primary_key
    auto = isinstance(pk, AutoField)
    names = tuple(name for name in meta.sorted_field_names
                  if name in instance.__data__ and not (auto and name == pk.name))
    sql, fields = _statement(type(instance), names)
    params = [field.db_value(instance.__data__[field.name]) for field in fields]
    cursor = db.execute_sql(sql, params)
    if auto:
        instance.__data__[pk.name] = cursor.fetchone()[0] if is_postgres() else cursor.lastrowid
    instance._dirty.clear()
    return instance
