"""Initial schema: reviewer accounts, requests, their history, and the audit seam.

Models are frozen copies, independent of ``server.models`` as it evolves.
"""

import datetime

from peewee import (
    AutoField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)


def up(migrator, db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class User(Base):
        id = AutoField()
        name = CharField(max_length=64, unique=True)
        role = CharField(max_length=16)
        token_hash = CharField(max_length=64, unique=True)
        created_at = DateTimeField(default=datetime.datetime.now)
        revoked_at = DateTimeField(null=True)

    class Request(Base):
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
        created_at = DateTimeField(index=True)
        updated_at = DateTimeField()

    class RequestEvent(Base):
        id = AutoField()
        request = ForeignKeyField(Request, backref="events", on_delete="CASCADE")
        from_state = CharField(max_length=16, null=True)
        to_state = CharField(max_length=16)
        actor = CharField(max_length=80)
        actor_role = CharField(max_length=16)
        reason = TextField(null=True)
        created_at = DateTimeField()

    class AuditRecord(Base):
        id = AutoField()
        action = CharField(max_length=64)
        actor = CharField(max_length=80)
        subject = CharField(max_length=128)
        reason = TextField(null=True)
        details = TextField(default="{}")
        created_at = DateTimeField()

    db.create_tables([User, Request, RequestEvent, AuditRecord])
