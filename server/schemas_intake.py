"""Schemas of the free-text intake endpoints."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from server.schemas import StrictSchema
from shared.intake import MAX_TEXT

_NULLABLE_INT = {"allow_none": True, "required": True}


class IntakeSchema(StrictSchema):
    text = fields.String(required=True, validate=validate.Length(1, MAX_TEXT))
    default_host = fields.String(
        allow_none=True,
        validate=validate.Length(1, 253),
        metadata={
            "description": "host for bare owner/name forms when the text names none; "
            "unset: such forms stay incomplete"
        },
    )


class IntakeMailSchema(StrictSchema):
    text = fields.String(validate=validate.Length(1, MAX_TEXT))
    email = fields.String(
        validate=validate.Length(1, 60_000),
        metadata={
            "description": "a raw RFC 5322 message; its subject and text/plain body are read"
        },
    )

    @ma.validates_schema
    def one_of(self, data, **kwargs):
        if ("text" in data) == ("email" in data):
            raise ma.ValidationError("give exactly one of text and email", "_schema")


class FieldValueSchema(ma.Schema):
    value = fields.Raw(required=True)
    text = fields.String(required=True, metadata={"description": "the supporting span"})
    start = fields.Integer(**_NULLABLE_INT)
    end = fields.Integer(**_NULLABLE_INT)
    confidence = fields.Float(required=True)
    source = fields.String(
        required=True, metadata={"description": "parser, model, rule or default"}
    )


class ProposalSchema(ma.Schema):
    kind = fields.String(allow_none=True, required=True)
    complete = fields.Boolean(required=True)
    confidence = fields.Float(required=True)
    fields_ = fields.Dict(
        data_key="fields",
        attribute="fields",
        keys=fields.String(),
        values=fields.Nested(FieldValueSchema),
        required=True,
    )
    missing = fields.List(fields.String(), required=True)
    exceptions = fields.List(fields.Nested(FieldValueSchema), required=True)
    notes = fields.List(fields.String(), required=True)
    describe = fields.String(allow_none=True, required=True)
    request = fields.Dict(
        allow_none=True,
        required=True,
        metadata={
            "description": "the body to POST to /requests once a person confirms; "
            "null while incomplete or blocked"
        },
    )


class AnswerSchema(ma.Schema):
    field = fields.String(required=True)
    question = fields.String(required=True)
    abstained = fields.Boolean(required=True)
    text = fields.String(allow_none=True, required=True)
    start = fields.Integer(**_NULLABLE_INT)
    end = fields.Integer(**_NULLABLE_INT)
    confidence = fields.Float(required=True)
    refused = fields.String(allow_none=True, required=True)


class AddressSchema(ma.Schema):
    text = fields.String(required=True)
    start = fields.Integer(required=True)
    end = fields.Integer(required=True)
    scope = fields.Dict(allow_none=True, required=True)
    error = fields.Dict(allow_none=True, required=True)
    note = fields.String(allow_none=True, required=True)


class ModelStatusSchema(ma.Schema):
    available = fields.Boolean(required=True)
    message = fields.String(required=True)
    code = fields.String()
    name = fields.String()
    variant = fields.String()
    sha256 = fields.String()
    threshold = fields.Float()


class IntakeResultSchema(ma.Schema):
    mode = fields.String(required=True, metadata={"description": "parser or parser+model"})
    model = fields.Nested(ModelStatusSchema, required=True)
    proposals = fields.List(fields.Nested(ProposalSchema), required=True)
    answers = fields.List(fields.Nested(AnswerSchema), required=True)
    addresses = fields.List(fields.Nested(AddressSchema), required=True)
    submitted = fields.Boolean(required=True, metadata={"description": "always false"})
    next = fields.String(required=True)
