"""Owners: the dataset catalog, proof-of-authority challenges, e-mail proofs and evidence,
and re-inclusion requests. Frozen models, independent of ``server.models``."""

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

    class Request(Base):
        id = AutoField()

    class CatalogRelease(Base):
        id = AutoField()
        name = CharField(max_length=128, unique=True)
        loaded_at = DateTimeField(default=datetime.datetime.now)
        repositories = IntegerField(default=0)
        files = IntegerField(default=0)

    class CatalogEntry(Base):
        id = AutoField()
        release = ForeignKeyField(CatalogRelease, backref="entries", on_delete="CASCADE")
        host = CharField(max_length=253)
        owner = CharField(max_length=255)
        owner_key = CharField(max_length=255)
        name = CharField(max_length=255)
        name_key = CharField(max_length=255)
        file_count = IntegerField(default=0)

        class Meta:
            indexes = (
                (("release", "host", "owner_key", "name_key"), True),
                (("host", "owner_key", "name_key"), False),
            )

    class Challenge(Base):
        id = AutoField()
        request = ForeignKeyField(Request, backref="challenges", on_delete="CASCADE")
        account = CharField(max_length=255)
        token = CharField(max_length=64, unique=True)
        created_at = DateTimeField(default=datetime.datetime.now)
        expires_at = DateTimeField()
        verified_at = DateTimeField(null=True)
        verified_url = TextField(null=True)

    class EmailProof(Base):
        id = AutoField()
        request = ForeignKeyField(Request, backref="email_proofs", on_delete="CASCADE")
        address = CharField(max_length=320)
        token_hash = CharField(max_length=64, unique=True)
        created_at = DateTimeField(default=datetime.datetime.now)
        expires_at = DateTimeField()
        verified_at = DateTimeField(null=True)

    class Evidence(Base):
        id = AutoField()
        request = ForeignKeyField(Request, backref="evidence", on_delete="CASCADE")
        method = CharField(max_length=16)
        account = CharField(max_length=255, null=True)
        detail = TextField()
        actor = CharField(max_length=80)
        created_at = DateTimeField(default=datetime.datetime.now)

    db.create_tables([CatalogRelease, CatalogEntry, Challenge, EmailProof, Evidence])
    migrator.migrate(
        migrator.add_column("request", "reinclusion_requested_at", DateTimeField(null=True))
    )
