"""Published exclusion lists (immutable). Frozen model, independent of ``server.models``."""

from peewee import BlobField, DateTimeField, IntegerField, Model, TextField


def up(migrator, db):
    class ExclusionList(Model):
        version = IntegerField(primary_key=True)
        note = TextField()
        body = BlobField()
        plain_body = BlobField()
        rules = IntegerField()
        issued = DateTimeField()
        expires = DateTimeField()

        class Meta:
            database = db
            legacy_table_names = False

    db.create_tables([ExclusionList])
