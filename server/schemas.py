"""Marshmallow schemas: what the API accepts and returns (and documents in OpenAPI)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from shared import states
from shared.scope import MAX_HOST, MAX_NAME, MAX_OWNER, MAX_PATH

# Bounded and DNS-shaped, so that every query the spec allows fits in a request line.
HOST_PATTERN = r"^[A-Za-z0-9.-]{1,253}$"


class StrictSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE  # unknown fields are refused, never silently dropped


def cursor_argument() -> fields.String:
    """The ``after`` query parameter of a keyset-paged list (see server/cursors.py)."""
    return fields.String(
        validate=validate.Length(1, 600),
        metadata={
            "description": "The next_cursor of the previous page: continue after its last "
            "row, whatever changed in between (instead of page)."
        },
    )


def next_cursor_field() -> fields.String:
    return fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "Pass as 'after' for the next page; null on the last page."},
    )


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
    reinclusion_requested_at = fields.DateTime(allow_none=True, required=True, format="iso")
    created_at = fields.DateTime(required=True, format="iso")
    updated_at = fields.DateTime(required=True, format="iso")
    allowed_transitions = fields.List(fields.String(), required=True)


class RequestLicenseSchema(ma.Schema):
    """The current verdict of the repository a ``license`` request disputes."""

    verdict_id = fields.Integer(required=True)
    expression = fields.String(required=True, allow_none=True)
    verdict = fields.String(required=True)
    admitted = fields.Boolean(required=True)
    source = fields.String(required=True, metadata={"description": "scan or override"})
    policy = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    created_at = fields.DateTime(required=True, format="iso")


class RequestDetailSchema(RequestSchema):
    history = fields.List(fields.Nested(EventSchema), required=True)
    license_verdict = fields.Nested(
        RequestLicenseSchema,
        allow_none=True,
        metadata={"description": "license requests only: the verdict now current (null: none)"},
    )


class ReceiptSchema(ma.Schema):
    request = fields.Nested(RequestSchema, required=True)
    status_token = fields.String(
        required=True,
        metadata={"description": "secret; shown once; acts as the owner on this request only"},
    )
    status_url = fields.String(
        required=True,
        metadata={"description": "the owner's status page, with the token (PUBLIC_URL based)"},
    )
    next = fields.String(required=True)


class TransitionSchema(StrictSchema):
    to = fields.String(required=True, validate=validate.OneOf(states.STATES))
    reason = fields.String(allow_none=True, validate=validate.Length(0, 2000))


class RequestListArgsSchema(StrictSchema):
    state = fields.List(
        fields.String(validate=validate.OneOf(states.STATES)),
        validate=validate.Length(max=len(states.STATES)),
    )
    kind = fields.List(
        fields.String(validate=validate.OneOf(states.KINDS)),
        validate=validate.Length(max=len(states.KINDS)),
    )
    host = fields.String(validate=validate.Regexp(HOST_PATTERN))
    q = fields.String(validate=validate.Length(1, 200))
    reinclusion_requested = fields.Boolean()
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
    after = cursor_argument()


class RequestPageSchema(ma.Schema):
    items = fields.List(fields.Nested(RequestSchema), required=True)
    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    next_cursor = next_cursor_field()


class RequestCountsArgsSchema(StrictSchema):
    """The list's filters except state, sort and paging: counts are given for every state."""

    kind = RequestListArgsSchema._declared_fields["kind"]
    host = RequestListArgsSchema._declared_fields["host"]
    q = RequestListArgsSchema._declared_fields["q"]
    reinclusion_requested = fields.Boolean()
    min_age_days = RequestListArgsSchema._declared_fields["min_age_days"]
    max_age_days = RequestListArgsSchema._declared_fields["max_age_days"]


class RequestCountsSchema(ma.Schema):
    counts = fields.Dict(
        keys=fields.String(), values=fields.Integer(), required=True,
        metadata={"description": "requests per state (every state listed, zeros included)"},
    )
    total = fields.Integer(required=True)


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


class LookupArgsSchema(StrictSchema):
    host = fields.String(required=True, validate=validate.Regexp(HOST_PATTERN))
    owner = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9._/-]{1,255}$"))
    name = fields.String(validate=validate.Regexp(r"^[A-Za-z0-9._-]{1,255}$"))


class CatalogRepositorySchema(ma.Schema):
    name = fields.String(required=True)
    files = fields.Integer(required=True, metadata={"description": "files in the release"})


class LookupReleaseSchema(ma.Schema):
    name = fields.String(required=True)
    loaded_at = fields.DateTime(required=True, format="iso")
    repositories = fields.List(
        fields.Nested(CatalogRepositorySchema),
        required=True,
        metadata={"description": "the matching repositories, by name, at most 500"},
    )
    repository_count = fields.Integer(required=True)
    files = fields.Integer(required=True, metadata={"description": "sum over all matches"})
    truncated = fields.Boolean(required=True)


class CoveringRequestSchema(ma.Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    state = fields.String(required=True)
    scope = fields.String(required=True, metadata={"description": "a file's path is withheld"})
    created_at = fields.DateTime(required=True, format="iso")


class LookupSchema(ma.Schema):
    host = fields.String(required=True)
    owner = fields.String(required=True)
    name = fields.String(allow_none=True, required=True)
    releases = fields.List(fields.Nested(LookupReleaseSchema), required=True)
    requests = fields.List(
        fields.Nested(CoveringRequestSchema),
        required=True,
        metadata={"description": "requests that cover it, in every state; at most 200"},
    )
    requests_total = fields.Integer(required=True)


# -- proof of authority --------------------------------------------------------------------


class ChallengeCreateSchema(StrictSchema):
    account = fields.String(
        allow_none=True,
        validate=validate.Length(1, MAX_OWNER),
        metadata={
            "description": "leave out for the request's own account; for an organisation-wide "
            "request, a member account that co-signs it"
        },
    )


class ChallengeCheckSchema(StrictSchema):
    """No fields: the check looks at every open challenge of the request."""


class UrlCheckSchema(ma.Schema):
    url = fields.String(required=True)
    outcome = fields.String(
        required=True,
        metadata={
            "description": "found, token_missing, not_checked, fetch_private_address, "
            "fetch_timeout, fetch_too_large, fetch_redirect_refused, fetch_http_error, "
            "fetch_failed"
        },
    )
    status = fields.Integer(allow_none=True, required=True, metadata={"description": "HTTP"})
    message = fields.String(required=True)


class ChallengeSchema(ma.Schema):
    id = fields.Integer(required=True)
    account = fields.String(required=True)
    token = fields.String(required=True, metadata={"description": "the line to publish"})
    path = fields.String(required=True, metadata={"description": "where the file goes"})
    urls = fields.List(
        fields.String(), required=True, metadata={"description": "checked in this order"}
    )
    instructions = fields.String(required=True)
    created_at = fields.DateTime(required=True, format="iso")
    expires_at = fields.DateTime(required=True, format="iso")
    expired = fields.Boolean(required=True)
    verified_at = fields.DateTime(allow_none=True, required=True, format="iso")
    verified_url = fields.String(allow_none=True, required=True)


class ChallengeReportSchema(ChallengeSchema):
    checks = fields.List(fields.Nested(UrlCheckSchema), required=True)


class CheckResultSchema(ma.Schema):
    verified = fields.Boolean(required=True, metadata={"description": "the request is verified"})
    state = fields.String(required=True)
    etag = fields.String(required=True)
    message = fields.String(required=True)
    challenges = fields.List(fields.Nested(ChallengeReportSchema), required=True)


class EvidenceSchema(ma.Schema):
    id = fields.Integer(required=True)
    method = fields.String(required=True, metadata={"description": "challenge, email or manual"})
    account = fields.String(allow_none=True, required=True)
    detail = fields.String(
        required=True,
        metadata={"description": "the URL, the masked address, or the reviewer's note"},
    )
    actor = fields.String(required=True)
    created_at = fields.DateTime(required=True, format="iso")


class EmailProofSchema(ma.Schema):
    id = fields.Integer(required=True)
    address = fields.String(required=True, metadata={"description": "masked"})
    created_at = fields.DateTime(required=True, format="iso")
    expires_at = fields.DateTime(required=True, format="iso")
    verified_at = fields.DateTime(allow_none=True, required=True, format="iso")


class ProofsSchema(ma.Schema):
    evidence = fields.List(fields.Nested(EvidenceSchema), required=True)
    challenges = fields.List(fields.Nested(ChallengeSchema), required=True)
    email_proofs = fields.List(fields.Nested(EmailProofSchema), required=True)


class EmailProofCreateSchema(StrictSchema):
    address = fields.String(required=True, validate=validate.Length(3, 254))


class EmailProofSentSchema(ma.Schema):
    email_proof = fields.Nested(EmailProofSchema, required=True)
    next = fields.String(required=True)


class EmailConfirmSchema(StrictSchema):
    token = fields.String(required=True, validate=validate.Length(1, 200))


class EmailConfirmedSchema(ma.Schema):
    request_id = fields.Integer(required=True)
    state = fields.String(required=True)
    evidence = fields.Nested(EvidenceSchema, required=True)


# --- audit log -------------------------------------------------------------------------

B64_HASH = {"description": "base64 of a 32-byte SHA-256 hash"}


class CheckpointSchema(ma.Schema):
    note = fields.String(required=True, metadata={
        "description": "the C2SP tlog-checkpoint signed note, byte for byte"})
    size = fields.Integer(required=True)
    root_hash = fields.String(required=True, metadata=B64_HASH)


class EntryRangeArgsSchema(StrictSchema):
    start = fields.Integer(required=True, validate=validate.Range(0, 2**62))
    end = fields.Integer(required=True, validate=validate.Range(1, 2**62),
                         metadata={"description": "exclusive; at most 1000 entries a call"})


class LogEntrySchema(ma.Schema):
    index = fields.Integer(required=True)
    entry = fields.String(required=True, metadata={
        "description": "the entry's canonical JSON (RFC 8785); leaf = SHA-256(0x00 || UTF-8)"})
    leaf_hash = fields.String(required=True, metadata=B64_HASH)


class EntryRangeSchema(ma.Schema):
    entries = fields.List(fields.Nested(LogEntrySchema), required=True)


class InclusionArgsSchema(StrictSchema):
    size = fields.Integer(required=True, validate=validate.Range(1, 2**62))
    index = fields.Integer(validate=validate.Range(0, 2**62))
    leaf_hash = fields.String(validate=validate.Regexp(r"^[A-Za-z0-9+/]{43}=$"),
                              metadata=B64_HASH)


class InclusionProofSchema(ma.Schema):
    index = fields.Integer(required=True)
    size = fields.Integer(required=True)
    leaf_hash = fields.String(required=True, metadata=B64_HASH)
    proof = fields.List(fields.String(metadata=B64_HASH), required=True)


class ConsistencyArgsSchema(StrictSchema):
    old = fields.Integer(required=True, validate=validate.Range(0, 2**62))
    new = fields.Integer(required=True, validate=validate.Range(0, 2**62))


class ConsistencyProofSchema(ma.Schema):
    old = fields.Integer(required=True)
    new = fields.Integer(required=True)
    proof = fields.List(fields.String(metadata=B64_HASH), required=True)


class RetiredKeySchema(ma.Schema):
    verifier = fields.String(required=True)
    retired_at = fields.DateTime(required=True, format="iso")
    rotation_note = fields.String(required=True, metadata={
        "description": "a signed note naming the old and new key, signed by both"})
    entry_index = fields.Integer(required=True)


class VerifierKeysSchema(ma.Schema):
    origin = fields.String(required=True)
    current = fields.String(required=True, metadata={
        "description": "verifier key name+hexid+base64(0x01||key) (C2SP signed-note)"})
    retired = fields.List(fields.Nested(RetiredKeySchema), required=True)


class ScopeParseSchema(StrictSchema):
    text = fields.String(required=True, validate=validate.Length(1, 20_000),
                         metadata={"description": "what the owner pasted, one entry per line"})
    kind = fields.String(allow_none=True, validate=validate.OneOf(states.KINDS),
                         metadata={"description": "the kind the owner chose, if any"})
    host = fields.String(load_default="github.com", validate=validate.Regexp(HOST_PATTERN),
                         metadata={"description": "host for bare owner/name entries"})


class ParsedScopeSchema(ma.Schema):
    kind = fields.String(required=True)
    host = fields.String(required=True)
    owner = fields.String(required=True)
    name = fields.String(allow_none=True, required=True)
    path = fields.String(allow_none=True, required=True)
    line = fields.Integer(allow_none=True, required=True)
    describe = fields.String(required=True, metadata={"description": "the scope in words"})


class ParsedLineSchema(ma.Schema):
    line = fields.Integer(required=True)
    text = fields.String(required=True)
    scope = fields.Nested(ParsedScopeSchema, allow_none=True, required=True)
    note = fields.String(allow_none=True, required=True)
    error = fields.Nested(ErrorBodySchema, allow_none=True, required=True)


class ParsedScopesSchema(ma.Schema):
    lines = fields.List(fields.Nested(ParsedLineSchema), required=True)


# --- exclusion lists -------------------------------------------------------------------


class PublishSchema(StrictSchema):
    confirm = fields.String(required=True, validate=validate.Equal("publish"),
                            metadata={"description": "the word 'publish': a deliberate act"})
    expires_days = fields.Integer(load_default=30, validate=validate.Range(1, 365))


class ResignSchema(StrictSchema):
    expires_days = fields.Integer(load_default=30, validate=validate.Range(1, 365))


class PublishedListSchema(ma.Schema):
    version = fields.Integer(required=True)
    rules = fields.Integer(required=True)
    issued = fields.DateTime(required=True, format="iso")
    expires = fields.DateTime(required=True, format="iso")
    manifest = fields.String(required=True, metadata={"description": "the signed manifest note"})


class RuleChangeSchema(ma.Schema):
    rule = fields.Dict(required=True)
    requests = fields.List(fields.Integer())


class PreviewSchema(ma.Schema):
    current_version = fields.Integer(allow_none=True, required=True)
    next_version = fields.Integer(required=True)
    added = fields.List(fields.Nested(RuleChangeSchema), required=True)
    removed = fields.List(fields.Nested(RuleChangeSchema), required=True)
    rules = fields.Integer(required=True)
    requests_to_publish = fields.List(fields.Integer(), required=True)


class ListDiffSchema(ma.Schema):
    old = fields.Integer(required=True)
    new = fields.Integer(required=True)
    added = fields.List(fields.Dict(), required=True)
    removed = fields.List(fields.Dict(), required=True)
