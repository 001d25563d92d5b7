"""Marshmallow schemas of the PII review API: findings from pipelines, masked answers.

A finding sent by a pipeline is ``shared.pii.Finding.to_json()`` plus the repository
(``host``, ``owner``, ``name``) and its ``context``: a few lines around the value and where
the value starts in them. Unknown fields are refused at every level.
"""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from server.schemas import HOST_PATTERN, StrictSchema, cursor_argument, next_cursor_field
from shared.pii import KINDS, TIERS
from shared.scope import MAX_HOST, MAX_NAME, MAX_OWNER, MAX_PATH

MAX_FINDINGS = 1000  # items per ingestion call
MAX_DECISIONS = 1000
MAX_CONTEXT = 8000  # characters of context per finding
MAX_MASKED = 512
MAX_INT = 2**31 - 1
DECISIONS = ("confirmed", "false_positive")

_hex64 = validate.Regexp(r"^[0-9a-f]{64}$", error="must be 64 lowercase hexadecimal digits")
_rule = validate.Regexp(r"^[A-Za-z0-9_.:-]{1,64}$", error="must be a rule id (1-64 characters)")


def _offset(low: int = 0, **kwargs):
    return fields.Integer(required=True, strict=True, validate=validate.Range(low, MAX_INT),
                          **kwargs)  # fmt: skip


class PiiContextSchema(StrictSchema):
    text = fields.String(
        required=True,
        validate=validate.Length(1, MAX_CONTEXT),
        metadata={"description": "a few lines around the value, the value included"},
    )
    value_start = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(0, MAX_CONTEXT),
        metadata={"description": "where the value starts in text (characters)"},
    )


class PiiFindingInSchema(StrictSchema):
    host = fields.String(required=True, validate=validate.Length(1, MAX_HOST))
    owner = fields.String(required=True, validate=validate.Length(1, MAX_OWNER))
    name = fields.String(required=True, validate=validate.Length(1, MAX_NAME))
    path = fields.String(required=True, validate=validate.Length(1, MAX_PATH))
    content_sha256 = fields.String(required=True, validate=_hex64)
    start = _offset()
    end = _offset()
    line = _offset(1)
    column = _offset(1)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    rule = fields.String(required=True, validate=_rule)
    tier = fields.Integer(required=True, strict=True, validate=validate.OneOf(TIERS))
    fingerprint = fields.String(required=True, validate=_hex64)
    masked = fields.String(required=True, validate=validate.Length(1, MAX_MASKED))
    context = fields.Nested(PiiContextSchema, required=True)


class PiiFindingBatchSchema(StrictSchema):
    findings = fields.List(
        fields.Nested(PiiFindingInSchema), required=True, validate=validate.Length(1, MAX_FINDINGS)
    )


class PiiFindingListArgsSchema(StrictSchema):
    host = fields.String(validate=validate.Regexp(HOST_PATTERN))
    owner = fields.String(validate=validate.Length(1, MAX_OWNER))
    name = fields.String(validate=validate.Length(1, MAX_NAME))
    kind = fields.String(validate=validate.OneOf(KINDS))
    tier = fields.Integer(validate=validate.OneOf(TIERS))
    decision = fields.String(
        validate=validate.OneOf((*DECISIONS, "none")),
        metadata={"description": "confirmed, false_positive, or none (undecided)"},
    )
    page = fields.Integer(load_default=1, validate=validate.Range(1, 1_000_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    after = cursor_argument()


class PiiRevealSchema(StrictSchema):
    reason = fields.String(required=True, validate=validate.Length(1, 2000))


class PiiDecisionInSchema(StrictSchema):
    fingerprint = fields.String(required=True, validate=_hex64)
    rule = fields.String(required=True, validate=_rule)
    decision = fields.String(required=True, validate=validate.OneOf(DECISIONS))
    reason = fields.String(validate=validate.Length(0, 2000))


class PiiDecisionBatchSchema(StrictSchema):
    decisions = fields.List(
        fields.Nested(PiiDecisionInSchema),
        required=True,
        validate=validate.Length(1, MAX_DECISIONS),
    )


# --- answers ------------------------------------------------------------------------------


class PiiIngestResultSchema(ma.Schema):
    id = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"description": "created, linked, unchanged"})


class PiiFindingIngestReportSchema(ma.Schema):
    results = fields.List(fields.Nested(PiiIngestResultSchema), required=True)
    created = fields.Integer(required=True)
    linked = fields.Integer(required=True, metadata={"description": "known, at a new location"})
    unchanged = fields.Integer(required=True)


class PiiLocationSchema(ma.Schema):
    host = fields.String(required=True)
    owner = fields.String(required=True)
    name = fields.String(required=True)
    path = fields.String(required=True)


class PiiDecisionSummarySchema(ma.Schema):
    decision = fields.String(required=True)
    actor = fields.String(required=True)
    decided_at = fields.DateTime(required=True, format="iso")


class PiiFindingSchema(ma.Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    rule = fields.String(required=True)
    tier = fields.Integer(required=True)
    fingerprint = fields.String(required=True)
    masked = fields.String(required=True, metadata={"description": "never the raw value"})
    content_sha256 = fields.String(required=True)
    start = fields.Integer(required=True)
    end = fields.Integer(required=True)
    line = fields.Integer(required=True)
    column = fields.Integer(required=True)
    created_at = fields.DateTime(required=True, format="iso")
    decision = fields.Nested(PiiDecisionSummarySchema, required=True, allow_none=True)
    locations = fields.List(
        fields.Nested(PiiLocationSchema),
        required=True,
        metadata={"description": "where this file content was seen (the first 20)"},
    )


class PiiFindingPageSchema(ma.Schema):
    items = fields.List(fields.Nested(PiiFindingSchema), required=True)
    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    next_cursor = next_cursor_field()


class PiiMaskedContextSchema(ma.Schema):
    text = fields.String(required=True, metadata={"description": "known values masked"})
    value_start = fields.Integer(required=True)
    value_end = fields.Integer(required=True)


class PiiDecisionEventSchema(ma.Schema):
    from_decision = fields.String(required=True, allow_none=True)
    to_decision = fields.String(required=True)
    actor = fields.String(required=True)
    reason = fields.String(required=True, allow_none=True)
    created_at = fields.DateTime(required=True, format="iso")


class PiiFindingDetailSchema(PiiFindingSchema):
    context = fields.Nested(PiiMaskedContextSchema, required=True)
    history = fields.List(
        fields.Nested(PiiDecisionEventSchema),
        required=True,
        metadata={"description": "changes of the decision, newest first"},
    )


class PiiRevealedSchema(ma.Schema):
    id = fields.Integer(required=True)
    value = fields.String(required=True, metadata={"description": "the raw value"})
    context = fields.String(required=True, metadata={"description": "the raw snippet"})
    value_start = fields.Integer(required=True)
    value_end = fields.Integer(required=True)


class PiiDecisionResultSchema(ma.Schema):
    fingerprint = fields.String(required=True)
    rule = fields.String(required=True)
    decision = fields.String(required=True)
    previous = fields.String(required=True, allow_none=True)
    status = fields.String(required=True, metadata={"description": "changed or unchanged"})


class PiiDecisionReportSchema(ma.Schema):
    results = fields.List(fields.Nested(PiiDecisionResultSchema), required=True)
    changed = fields.Integer(required=True)


class PiiRequestFindingsSchema(ma.Schema):
    request_id = fields.Integer(required=True)
    path = fields.String(required=True)
    items = fields.List(fields.Nested(PiiFindingSchema), required=True)
