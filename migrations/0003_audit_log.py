"""The signed audit log: entries, complete-subtree hashes, head, checkpoints, notes, retired
keys. Records of the old ``audit_record`` table become the first entries, in their order;
then that table goes. Frozen models, independent of ``server.models``."""

import datetime
import json
import os

from peewee import (
    AutoField,
    BigIntegerField,
    BlobField,
    CharField,
    CompositeKey,
    DateTimeField,
    IntegerField,
    Model,
    TextField,
)

from shared import merkle
from shared.audit_entry import build_entry, note_digest


def up(migrator, db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class LogEntry(Base):
        index = BigIntegerField(primary_key=True)
        entry = BlobField()
        leaf_hash = BlobField(index=True)
        created_at = DateTimeField(default=datetime.datetime.now)

    class LogNode(Base):
        level = IntegerField()
        index = BigIntegerField()
        hash = BlobField()

        class Meta:
            primary_key = CompositeKey("level", "index")

    class LogHead(Base):
        id = IntegerField(primary_key=True)
        size = BigIntegerField(default=0)

    class LogCheckpoint(Base):
        id = AutoField()
        size = BigIntegerField(index=True)
        root_hash = BlobField()
        note = TextField()
        created_at = DateTimeField(default=datetime.datetime.now)

    class AuditNote(Base):
        id = AutoField()
        entry_index = BigIntegerField(null=True, index=True)
        salt = BlobField()
        text = TextField()

    class RetiredKey(Base):
        id = AutoField()
        verifier = TextField()
        retired_at = DateTimeField(default=datetime.datetime.now)
        rotation_note = TextField()
        entry_index = BigIntegerField()

    class AuditRecord(Base):
        id = AutoField()
        action = CharField(max_length=64)
        actor = CharField(max_length=80)
        subject = CharField(max_length=128)
        reason = TextField(null=True)
        details = TextField(default="{}")
        created_at = DateTimeField()

    db.create_tables([LogEntry, LogNode, LogHead, LogCheckpoint, AuditNote, RetiredKey])
    nodes = {}
    size = 0
    for record in AuditRecord.select().order_by(AuditRecord.id):
        note = None
        if record.reason is not None:
            salt = os.urandom(16)
            row = AuditNote.create(salt=salt, text=record.reason, entry_index=size)
            note = (row.id, note_digest(salt, record.reason))
        data = build_entry(record.action, record.actor, record.subject, record.created_at,
                           json.loads(record.details or "{}"), note)
        leaf = merkle.leaf_hash(data)
        made = merkle.nodes_after_append(size, leaf, lambda lvl, idx: nodes[(lvl, idx)])
        LogEntry.create(index=size, entry=data, leaf_hash=leaf, created_at=record.created_at)
        for level, index, value in made:
            nodes[(level, index)] = value
            LogNode.create(level=level, index=index, hash=value)
        size += 1
    LogHead.create(id=1, size=size)
    db.drop_tables([AuditRecord])
