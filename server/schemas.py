"""Marshmallow schemas: what the API accepts and returns (and documents in OpenAPI)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from shared import states
from shared.scope import MAX_HOST, MAX_NAME, MAX_OWNER, MAX_PATH


class StrictSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE  # unknown fields are refused, never silently dropped


class ErrorBodySchema(ma.Schema):
    code = fields.String(required=True, metadata={"description": "stable, machine-readable"})
    message = fields.String(required=True)
    details = fields.Dict(required=True)


class ErrorSchema(ma.Schema):
    error = fields.Nested(ErrorBodySchema, required=True)


class RequestCreateSchema(StrictSchema):
    kind = fields.String(required=True, validate=validate.OneOf(states.KINDS))
    host = fields.String(required=True, validate=validate.Length(1, MAX_HOST))
    owner = fields.String(required=True, validate=validate.Length(1, MAX_OWNER))
    name = fields.String(allow_none=True, validate=validate.Length(1, MAX_NAME))
    path = fields.String(allow_none=True, validate=validate.Length(1, MAX_PATH))
    line = fields.Integer(allow_none=True, strict=True, validate=validate.Range(1, 10_000_000))
    content_sha256 = fields.String(allow_none=True, validate=validate.Length(64, 64))
    notes = fields.String(allow_none=True, validate=validate.Length(0, 4000))


class EventSchema(ma.Schema):
    from_state = fields.String(allow_none=True, required=True)
    to_state = fields.String(required=True)
    actor = fields.String(required=True)
    actor_role = fields.String(required=True)
    reason = fields.String(allow_none=True, required=True)
    at = fields.DateTime(required=True, attribute="created_at", format="iso")


class RequestSchema(ma.Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    state = fields.String(required=True)
    host = fields.String(required=True)
    owner = fields.String(required=True)
    name = fields.String(allow_none=True, required=True)
    path = fields.String(allow_none=True, required=True)
    line = fields.Integer(allow_none=True, required=True)
    content_sha256 = fields.String(allow_none=True, required=True)
    notes = fields.String(allow_none=True, required=True)
    scope = fields.String(required=True, metadata={"description": "what will be enacted, in words"})
    version = fields.Integer(required=True)
    etag = fields.String(required=True)
    published_in = fields.Integer(allow_none=True, required=True)
    created_at = fields.DateTime(required=True, format="iso")
    updated_at = fields.DateTime(required=True, format="iso")
    allowed_transitions = fields.List(fields.String(), required=True)


class RequestDetailSchema(RequestSchema):
    history = fields.List(fields.Nested(EventSchema), required=True)


class ReceiptSchema(ma.Schema):
    request = fields.Nested(RequestSchema, required=True)
    status_token = fields.String(
        required=True,
        metadata={"description": "secret; shown once; acts as the owner on this request only"},
    )
    next = fields.String(required=True)


class TransitionSchema(StrictSchema):
    to = fields.String(required=True, validate=validate.OneOf(states.STATES))
    reason = fields.String(allow_none=True, validate=validate.Length(0, 2000))


class RequestListArgsSchema(StrictSchema):
    state = fields.List(fields.String(validate=validate.OneOf(states.STATES)))
    kind = fields.List(fields.String(validate=validate.OneOf(states.KINDS)))
    host = fields.String(validate=validate.Length(1, MAX_HOST))
    q = fields.String(validate=validate.Length(1, 200))
    min_age_days = fields.Float(validate=validate.Range(0, 36500))
    max_age_days = fields.Float(validate=validate.Range(0, 36500))
    sort = fields.String(
        load_default="created",
        validate=validate.OneOf(
            [
                p + s
                for s in ("created", "updated", "state", "kind", "host", "id")
                for p in ("", "-")
            ]
        ),
    )
    page = fields.Integer(load_default=1, validate=validate.Range(1, 1_000_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(1, 200))


class RequestPageSchema(ma.Schema):
    items = fields.List(fields.Nested(RequestSchema), required=True)
    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)


class UserSchema(ma.Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True)
    created_at = fields.DateTime(required=True, format="iso")
    revoked_at = fields.DateTime(allow_none=True, required=True, format="iso")


class UserCreateSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(1, 64))
    role = fields.String(required=True, validate=validate.OneOf(states.USER_ROLES))


class UserCreatedSchema(ma.Schema):
    user = fields.Nested(UserSchema, required=True)
    token = fields.String(required=True, metadata={"description": "shown once"})


class RevokeSchema(StrictSchema):
    reason = fields.String(allow_none=True, validate=validate.Length(0, 2000))


class MeSchema(ma.Schema):
    name = fields.String(required=True)
    role = fields.String(required=True)


class HealthSchema(ma.Schema):
    status = fields.String(required=True)
