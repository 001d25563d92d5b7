"""PII review: findings (one per file content, rule and span) with their encrypted context,
where each was seen, and reviewers' decisions keyed by (fingerprint, rule) with history.

Frozen models, independent of ``server.models``.
"""

import datetime

from peewee import (
    AutoField,
    BlobField,
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

    class PiiFinding(Base):
        id = AutoField()
        content_sha256 = CharField(max_length=64)
        start = IntegerField()
        end = IntegerField()
        line = IntegerField()
        column = IntegerField()
        kind = CharField(max_length=16, index=True)
        rule = CharField(max_length=64)
        tier = IntegerField(index=True)
        fingerprint = CharField(max_length=64)
        masked = TextField()
        context = BlobField()
        context_value_start = IntegerField()
        created_at = DateTimeField(default=datetime.datetime.now)

        class Meta:
            indexes = (
                (("content_sha256", "rule", "start", "end"), True),
                (("fingerprint", "rule"), False),
            )

    class PiiLocation(Base):
        id = AutoField()
        finding = ForeignKeyField(PiiFinding, backref="locations", on_delete="CASCADE")
        host = CharField(max_length=253)
        owner = CharField(max_length=255)
        owner_key = CharField(max_length=255)
        name = CharField(max_length=255)
        name_key = CharField(max_length=255)
        path = TextField()
        created_at = DateTimeField(default=datetime.datetime.now)

        class Meta:
            indexes = (
                (("finding", "host", "owner_key", "name_key", "path"), True),
                (("host", "owner_key", "name_key"), False),
            )

    class PiiDecision(Base):
        id = AutoField()
        fingerprint = CharField(max_length=64)
        rule = CharField(max_length=64)
        decision = CharField(max_length=16, index=True)
        actor = CharField(max_length=80)
        reason = TextField(null=True)
        decided_at = DateTimeField(default=datetime.datetime.now)

        class Meta:
            indexes = ((("fingerprint", "rule"), True),)

    class PiiDecisionEvent(Base):
        id = AutoField()
        decision = ForeignKeyField(PiiDecision, backref="events", on_delete="CASCADE")
        from_decision = CharField(max_length=16, null=True)
        to_decision = CharField(max_length=16)
        actor = CharField(max_length=80)
        reason = TextField(null=True)
        created_at = DateTimeField(default=datetime.datetime.now)

    db.create_tables([PiiFinding, PiiLocation, PiiDecision, PiiDecisionEvent])
