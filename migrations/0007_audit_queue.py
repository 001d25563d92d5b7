"""The audit log's queue: entries written in the transaction of the change they record and
moved into the Merkle log in batches by the sequencer (``server.sequencer``), so that the log's
one global lock is no longer taken on every request. Frozen model, independent of
``server.models``."""

import datetime

from peewee import AutoField, BigIntegerField, BlobField, DateTimeField, Model


def up(migrator, db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class AuditQueue(Base):
        id = AutoField()
        entry = BlobField()
        note_id = BigIntegerField(null=True)
        created_at = DateTimeField(default=datetime.datetime.now)

    db.create_tables([AuditQueue])
