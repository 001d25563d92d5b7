"""License verdicts: repositories with verdicts, and every verdict (append-only history).

Frozen models, independent of ``server.models``.
"""

import datetime

from peewee import (
    AutoField,
    BooleanField,
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

    class LicensedRepository(Base):
        id = AutoField()
        host = CharField(max_length=253)
        owner = CharField(max_length=255)
        owner_key = CharField(max_length=255)
        name = CharField(max_length=255)
        name_key = CharField(max_length=255)
        current_id = IntegerField(null=True)
        verdict = CharField(max_length=16, null=True, index=True)
        created_at = DateTimeField(default=datetime.datetime.now)
        updated_at = DateTimeField(default=datetime.datetime.now)

        class Meta:
            indexes = ((("host", "owner_key", "name_key"), True),)

    class LicenseVerdict(Base):
        id = AutoField()
        repository = ForeignKeyField(LicensedRepository, backref="verdicts", on_delete="CASCADE")
        expression = TextField(null=True)
        verdict = CharField(max_length=16)
        admitted = BooleanField()
        evidence = TextField()
        detector = CharField(max_length=64)
        detector_version = CharField(max_length=64)
        policy_name = CharField(max_length=64)
        policy_version = CharField(max_length=32)
        source = CharField(max_length=16)
        reason = TextField(null=True)
        actor = CharField(max_length=80)
        fingerprint = CharField(max_length=64, null=True)
        created_at = DateTimeField(default=datetime.datetime.now)

    db.create_tables([LicensedRepository, LicenseVerdict])
