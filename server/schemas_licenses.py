"""Marshmallow schemas of the license API: scans accepted from pipelines, verdicts returned.

A scan is ``shared.licenses.ScanResult.to_json()``. Unknown fields are refused at every level;
the client's ``verdict``, ``admitted`` and ``policy`` are accepted for convenience but
ignored, because the server judges with its own policy.
"""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from server.schemas import HOST_PATTERN, StrictSchema, cursor_argument, next_cursor_field
from shared.licenses import VERDICTS
from shared.scope import MAX_HOST, MAX_NAME, MAX_OWNER, MAX_PATH

MAX_SCANS = 1000  # items per ingestion call
MAX_EVIDENCE = 5000  # evidence items per scan
MAX_SCOPES = 1000
MAX_EXPRESSION = 2000
MAX_INT = 2**31 - 1
SOURCES = ("scan", "override")

_short = validate.Length(1, 64)
_expression = validate.Length(1, MAX_EXPRESSION)


class ScanDetectorSchema(StrictSchema):
    name = fields.String(required=True, validate=_short)
    version = fields.String(required=True, validate=validate.Length(0, 64))


class ScanPolicySchema(StrictSchema):
    name = fields.String(required=True, validate=_short)
    version = fields.String(required=True, validate=validate.Length(1, 32))


class ScanEvidenceSchema(StrictSchema):
    path = fields.String(required=True, validate=validate.Length(1, MAX_PATH))
    expression = fields.String(required=True, validate=_expression)
    score = fields.Float(required=True, validate=validate.Range(0, 1), allow_nan=False)
    detector = fields.String(required=True, validate=_short)
    kind = fields.String(required=True, validate=validate.Length(1, 32))
    line = fields.Integer(allow_none=True, strict=True, validate=validate.Range(1, MAX_INT))
    unknown = fields.List(
        fields.String(validate=validate.Length(1, 500)), validate=validate.Length(max=100)
    )


class ScanScopeSchema(StrictSchema):
    path = fields.String(required=True, validate=validate.Length(0, MAX_PATH))
    expression = fields.String(required=True, allow_none=True, validate=_expression)
    verdict = fields.String(validate=validate.OneOf(VERDICTS))  # ignored: judged here
    vendored = fields.Boolean(load_default=False)
    evidence = fields.List(
        fields.String(validate=validate.Length(1, MAX_PATH)), validate=validate.Length(max=1000)
    )
    other_evidence = fields.Integer(strict=True, validate=validate.Range(0, MAX_INT))


class ScanSchema(StrictSchema):
    """``optout licenses scan --json``: only ``declared`` and ``detector`` are required."""

    declared = fields.String(required=True, allow_none=True, validate=_expression)
    verdict = fields.String(validate=validate.OneOf(VERDICTS))  # ignored: judged here
    admitted = fields.Boolean()  # ignored
    policy = fields.Nested(ScanPolicySchema)  # ignored: the server's policy judges
    detector = fields.Nested(ScanDetectorSchema, required=True)
    evidence = fields.List(
        fields.Nested(ScanEvidenceSchema), validate=validate.Length(max=MAX_EVIDENCE)
    )
    scopes = fields.List(fields.Nested(ScanScopeSchema), validate=validate.Length(max=MAX_SCOPES))
    files_scanned = fields.Integer(strict=True, validate=validate.Range(0, MAX_INT))
    truncated = fields.Boolean()
    skipped = fields.Dict(
        keys=fields.String(validate=_short),
        values=fields.Integer(strict=True, validate=validate.Range(0, MAX_INT)),
        validate=validate.Length(max=32),
    )


class ScanItemSchema(StrictSchema):
    host = fields.String(required=True, validate=validate.Length(1, MAX_HOST))
    owner = fields.String(required=True, validate=validate.Length(1, MAX_OWNER))
    name = fields.String(required=True, validate=validate.Length(1, MAX_NAME))
    scan = fields.Nested(ScanSchema, required=True)


class ScanBatchSchema(StrictSchema):
    scans = fields.List(
        fields.Nested(ScanItemSchema), required=True, validate=validate.Length(1, MAX_SCANS)
    )


class OverrideSchema(StrictSchema):
    expression = fields.String(
        allow_none=True,
        validate=_expression,
        metadata={"description": "the SPDX expression (null: no license); default: keep it"},
    )
    verdict = fields.String(
        validate=validate.OneOf(VERDICTS),
        metadata={"description": "default: the policy's judgement of the expression"},
    )
    reason = fields.String(required=True, validate=validate.Length(1, 2000))


class LicenseListArgsSchema(StrictSchema):
    verdict = fields.List(
        fields.String(validate=validate.OneOf(VERDICTS)),
        validate=validate.Length(max=len(VERDICTS)),
    )
    source = fields.String(validate=validate.OneOf(SOURCES))
    admitted = fields.Boolean()
    host = fields.String(validate=validate.Regexp(HOST_PATTERN))
    page = fields.Integer(load_default=1, validate=validate.Range(1, 1_000_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    after = cursor_argument()


# --- answers ------------------------------------------------------------------------------


class NameVersionSchema(ma.Schema):
    name = fields.String(required=True)
    version = fields.String(required=True)


class VerdictEvidenceSchema(ma.Schema):
    path = fields.String(required=True)
    expression = fields.String(required=True)
    score = fields.Float(required=True)
    detector = fields.String(required=True)
    kind = fields.String(required=True)
    line = fields.Integer()
    unknown = fields.List(
        fields.String(), metadata={"description": "input ids that became LicenseRef-…"}
    )


class VerdictScopeSchema(ma.Schema):
    path = fields.String(required=True, metadata={"description": "a directory; '' is the root"})
    expression = fields.String(required=True, allow_none=True)
    verdict = fields.String(required=True)
    vendored = fields.Boolean(required=True)
    evidence = fields.List(fields.String(), required=True)
    other_evidence = fields.Integer(required=True)


class VerdictSchema(ma.Schema):
    id = fields.Integer(required=True)
    expression = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "the declared SPDX expression; null: no license found"},
    )
    verdict = fields.String(required=True, metadata={"description": ", ".join(VERDICTS)})
    admitted = fields.Boolean(required=True)
    source = fields.String(required=True, metadata={"description": "scan or override"})
    detector = fields.Nested(NameVersionSchema, required=True)
    policy = fields.Nested(NameVersionSchema, required=True)
    reason = fields.String(required=True, allow_none=True)
    actor = fields.String(required=True)
    fingerprint = fields.String(
        required=True, allow_none=True, metadata={"description": "SHA-256 of the scan's content"}
    )
    created_at = fields.DateTime(required=True, format="iso")


class VerdictDetailSchema(VerdictSchema):
    evidence = fields.List(fields.Nested(VerdictEvidenceSchema), required=True)
    scopes = fields.List(fields.Nested(VerdictScopeSchema), required=True)
    unknown = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "ids of the declared expression that became LicenseRef-…"},
    )
    files_scanned = fields.Integer(required=True)
    truncated = fields.Boolean(required=True)


class DisputeSchema(ma.Schema):
    id = fields.Integer(required=True, metadata={"description": "the license request's id"})
    state = fields.String(required=True)
    created_at = fields.DateTime(required=True, format="iso")
    verdict_id = fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "the verdict that was current when the request was filed"},
    )


class LicenseRecordSchema(ma.Schema):
    host = fields.String(required=True)
    owner = fields.String(required=True)
    name = fields.String(required=True)
    etag = fields.String(required=True)
    current = fields.Nested(VerdictDetailSchema, required=True)
    history = fields.List(
        fields.Nested(VerdictSchema),
        required=True,
        metadata={"description": "every verdict, newest (current) first"},
    )
    disputes = fields.List(fields.Nested(DisputeSchema), required=True)


class LicenseListItemSchema(ma.Schema):
    host = fields.String(required=True)
    owner = fields.String(required=True)
    name = fields.String(required=True)
    etag = fields.String(required=True)
    current = fields.Nested(VerdictSchema, required=True)


class LicensePageSchema(ma.Schema):
    items = fields.List(fields.Nested(LicenseListItemSchema), required=True)
    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    next_cursor = next_cursor_field()


class IngestResultSchema(ma.Schema):
    host = fields.String(required=True)
    owner = fields.String(required=True)
    name = fields.String(required=True)
    status = fields.String(required=True, metadata={"description": "created or unchanged"})
    etag = fields.String(required=True)
    verdict = fields.Nested(VerdictSchema, required=True)
    unknown = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "ids of the declared expression that became LicenseRef-…"},
    )


class IngestReportSchema(ma.Schema):
    results = fields.List(fields.Nested(IngestResultSchema), required=True)
    created = fields.Integer(required=True)
    unchanged = fields.Integer(required=True)
