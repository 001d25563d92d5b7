"""Peewee models. The schema itself is made only by the numbered scripts in ``migrations/``."""

from __future__ import annotations

import datetime as dt

from peewee import (
    AutoField,
    BigIntegerField,
    BlobField,
    BooleanField,
    CharField,
    CompositeKey,
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
    reinclusion_requested_at = DateTimeField(null=True)
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


class LogEntry(BaseModel):
    """One entry of the audit log: canonical JSON bytes, stored once and never re-serialised."""

    index = BigIntegerField(primary_key=True)  # position in the log, from 0, no gaps
    entry = BlobField()
    leaf_hash = BlobField(index=True)
    created_at = DateTimeField(default=utcnow)


class LogNode(BaseModel):
    """The hash of a complete subtree: leaves ``[index * 2**level, (index + 1) * 2**level)``."""

    level = IntegerField()
    index = BigIntegerField()
    hash = BlobField()

    class Meta:
        primary_key = CompositeKey("level", "index")


class LogHead(BaseModel):
    """The single row holding the log's size; appends lock it, so indexes never repeat."""

    id = IntegerField(primary_key=True)
    size = BigIntegerField(default=0)


class AuditQueue(BaseModel):
    """An entry committed with its change and not yet in the log (``server.sequencer``)."""

    id = AutoField()
    entry = BlobField()
    note_id = BigIntegerField(null=True)  # the AuditNote holding the reason, if any
    created_at = DateTimeField(default=utcnow)


class LogCheckpoint(BaseModel):
    """Every checkpoint the server published: a C2SP signed note, kept byte for byte."""

    id = AutoField()
    size = BigIntegerField(index=True)
    root_hash = BlobField()
    note = TextField()
    created_at = DateTimeField(default=utcnow)


class AuditNote(BaseModel):
    """The deletable clear text behind an entry's salted reason hash (erasure keeps the log)."""

    id = AutoField()
    entry_index = BigIntegerField(null=True, index=True)
    salt = BlobField()
    text = TextField()


class RetiredKey(BaseModel):
    """A signing key replaced by ``optout keys rotate``, with the note both keys signed."""

    id = AutoField()
    verifier = TextField()
    retired_at = DateTimeField(default=utcnow)
    rotation_note = TextField()
    entry_index = BigIntegerField()


class CatalogRelease(BaseModel):
    """A dataset release whose manifest was loaded with ``optout catalog load``."""

    id = AutoField()
    name = CharField(max_length=128, unique=True)
    loaded_at = DateTimeField(default=utcnow)
    repositories = IntegerField(default=0)
    files = IntegerField(default=0)


class CatalogEntry(BaseModel):
    """One repository in one release. ``*_key`` are lower-cased: forges ignore case."""

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


class Challenge(BaseModel):
    """A token an owner places in a repository to prove authority over an account.

    ``account`` is the request's owner (authority over the account or organisation itself)
    or another account (a member's co-signature on an organisation-wide request).
    """

    id = AutoField()
    request = ForeignKeyField(Request, backref="challenges", on_delete="CASCADE")
    account = CharField(max_length=255)
    token = CharField(max_length=64, unique=True)
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField()
    verified_at = DateTimeField(null=True)
    verified_url = TextField(null=True)


class EmailProof(BaseModel):
    """An e-mailed link; the address is kept here (deletable), never in the audit log."""

    id = AutoField()
    request = ForeignKeyField(Request, backref="email_proofs", on_delete="CASCADE")
    address = CharField(max_length=320)
    token_hash = CharField(max_length=64, unique=True)
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField()
    verified_at = DateTimeField(null=True)


class Evidence(BaseModel):
    """Proof of authority attached to a request: how, for which account, and what was seen."""

    id = AutoField()
    request = ForeignKeyField(Request, backref="evidence", on_delete="CASCADE")
    method = CharField(max_length=16)  # challenge | email | manual
    account = CharField(max_length=255, null=True)
    detail = TextField()
    actor = CharField(max_length=80)
    created_at = DateTimeField(default=utcnow)


class LicensedRepository(BaseModel):
    """A repository with license verdicts; ``current_id`` is its newest verdict (the ETag).

    ``*_key`` are lower-cased, as the catalog's: forges ignore case. ``verdict`` repeats the
    current verdict so that lists filter on it without reading every verdict.
    """

    id = AutoField()
    host = CharField(max_length=253)
    owner = CharField(max_length=255)
    owner_key = CharField(max_length=255)
    name = CharField(max_length=255)
    name_key = CharField(max_length=255)
    current_id = IntegerField(null=True)
    verdict = CharField(max_length=16, null=True, index=True)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("host", "owner_key", "name_key"), True),)


class LicenseVerdict(BaseModel):
    """One verdict on a repository's license. Rows are only ever added; the newest is current.

    ``source`` is ``scan`` (a pipeline's scan, re-judged here) or ``override`` (a reviewer's,
    with ``reason``). ``evidence`` is JSON; ``fingerprint`` is the SHA-256 of the scan's
    content, so that the same scan ingested again adds nothing.
    """

    id = AutoField()
    repository = ForeignKeyField(LicensedRepository, backref="verdicts", on_delete="CASCADE")
    expression = TextField(null=True)  # the declared SPDX expression; None: no license found
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
    created_at = DateTimeField(default=utcnow)


class ExclusionList(BaseModel):
    """A published exclusion list: immutable once written."""

    version = IntegerField(primary_key=True)
    note = TextField()  # the signed manifest, byte for byte
    body = BlobField()  # the published body (hashed identifiers in privacy mode)
    plain_body = BlobField()  # the same rules in clear, for previews and diffs (never served)
    rules = IntegerField()
    issued = DateTimeField()
    expires = DateTimeField()


class PiiFinding(BaseModel):
    """A detected value in one file content: unique per (content SHA-256, rule, span).

    ``context`` is a few lines around the value, AES-GCM encrypted (``server.pii_context``);
    the value starts at ``context_value_start`` in it. The raw value is stored nowhere else.
    """

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
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("content_sha256", "rule", "start", "end"), True),
            (("fingerprint", "rule"), False),
        )


class PiiLocation(BaseModel):
    """Where a finding's file content was seen. ``*_key`` are lower-cased: forges ignore case."""

    id = AutoField()
    finding = ForeignKeyField(PiiFinding, backref="locations", on_delete="CASCADE")
    host = CharField(max_length=253)
    owner = CharField(max_length=255)
    owner_key = CharField(max_length=255)
    name = CharField(max_length=255)
    name_key = CharField(max_length=255)
    path = TextField()
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("finding", "host", "owner_key", "name_key", "path"), True),
            (("host", "owner_key", "name_key"), False),
        )


class PiiDecision(BaseModel):
    """A reviewer's current decision on a value under a rule, wherever it appears."""

    id = AutoField()
    fingerprint = CharField(max_length=64)
    rule = CharField(max_length=64)
    decision = CharField(max_length=16, index=True)  # confirmed | false_positive
    actor = CharField(max_length=80)
    reason = TextField(null=True)
    decided_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("fingerprint", "rule"), True),)


class PiiDecisionEvent(BaseModel):
    """One change of a decision: who moved it from which decision to which, and why."""

    id = AutoField()
    decision = ForeignKeyField(PiiDecision, backref="events", on_delete="CASCADE")
    from_decision = CharField(max_length=16, null=True)
    to_decision = CharField(max_length=16)
    actor = CharField(max_length=80)
    reason = TextField(null=True)
    created_at = DateTimeField(default=utcnow)


MODELS = [
    ExclusionList,
    User,
    Request,
    RequestEvent,
    LogEntry,
    LogNode,
    LogHead,
    AuditQueue,
    LogCheckpoint,
    AuditNote,
    RetiredKey,
    CatalogRelease,
    CatalogEntry,
    Challenge,
    EmailProof,
    Evidence,
    LicensedRepository,
    LicenseVerdict,
    PiiFinding,
    PiiLocation,
    PiiDecision,
    PiiDecisionEvent,
]
