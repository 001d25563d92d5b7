"""Peewee models. The schema itself is made only by the numbered scripts in ``migrations/``."""

from __future__ import annotations

import datetime as dt

from peewee import (
    AutoField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

from server.db import db


def utcnow() -> dt.datetime:
    """Return the current UTC time as a naive datetime (stored the same on every backend)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False


class User(BaseModel):
    """A reviewer account; its API token is stored only as a SHA-256 digest."""

    id = AutoField()
    name = CharField(max_length=64, unique=True)
    role = CharField(max_length=16)
    token_hash = CharField(max_length=64, unique=True)
    created_at = DateTimeField(default=utcnow)
    revoked_at = DateTimeField(null=True)


class Request(BaseModel):
    """An owner's opt-out request and its current state; ``version`` backs the ETag."""

    id = AutoField()
    kind = CharField(max_length=16)
    state = CharField(max_length=16, index=True)
    host = CharField(max_length=253, index=True)
    owner = CharField(max_length=255)
    name = CharField(max_length=255, null=True)
    path = TextField(null=True)
    line = IntegerField(null=True)
    content_sha256 = CharField(max_length=64, null=True)
    notes = TextField(null=True)
    status_token_hash = CharField(max_length=64, unique=True)
    version = IntegerField(default=1)
    published_in = IntegerField(null=True)
    created_at = DateTimeField(default=utcnow, index=True)
    updated_at = DateTimeField(default=utcnow)


class RequestEvent(BaseModel):
    """One step of a request's history: who moved it from which state to which, and why."""

    id = AutoField()
    request = ForeignKeyField(Request, backref="events", on_delete="CASCADE")
    from_state = CharField(max_length=16, null=True)
    to_state = CharField(max_length=16)
    actor = CharField(max_length=80)
    actor_role = CharField(max_length=16)
    reason = TextField(null=True)
    created_at = DateTimeField(default=utcnow)


class AuditRecord(BaseModel):
    """A governance action as recorded by ``server.audit.record_action``."""

    id = AutoField()
    action = CharField(max_length=64)
    actor = CharField(max_length=80)
    subject = CharField(max_length=128)
    reason = TextField(null=True)
    details = TextField(default="{}")
    created_at = DateTimeField(default=utcnow)


MODELS = [User, Request, RequestEvent, AuditRecord]
