"""Opt-out requests: submit, read, list, and move through the state machine."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from peewee import fn

from server import cursors, prepared
from server.audit import record_action
from server.auth import STATUS_TOKEN_PREFIX, Principal, hash_token, new_token
from server.db import db
from server.errors import ApiError, not_found
from server.models import Evidence, Request, RequestEvent, utcnow
from shared import states
from shared.scope import ScopeError, build_scope

MAX_NOTES = 4000
MAX_REASON = 2000
MAX_ID = 2**31 - 1  # ids are SERIAL (32-bit) on PostgreSQL
SORT_TYPES = {"created": dt.datetime, "updated": dt.datetime, "id": int}  # others: str
SORTS = {
    "created": Request.created_at,
    "updated": Request.updated_at,
    "state": Request.state,
    "kind": Request.kind,
    "host": Request.host,
    "id": Request.id,
}


def etag_of(req: Request) -> str:
    """Return the strong entity tag of a request's current version (without quotes)."""
    return f"r{req.id}-v{req.version}"


def _scope_error(error: ScopeError) -> ApiError:
    return ApiError(422, error.code, error.message, {"field": error.field})


def submit_request(data: dict) -> tuple[Request, str]:
    """Store a new request in state ``received`` and return it with its status token."""
    try:
        scope = build_scope(data["kind"], data)
    except ScopeError as error:
        raise _scope_error(error) from None
    notes = (data.get("notes") or "").strip() or None
    if notes is not None and len(notes) > MAX_NOTES:
        raise ApiError(
            422,
            "notes_too_long",
            f"notes are limited to {MAX_NOTES} characters",
            {"field": "notes"},
        )
    token = new_token(STATUS_TOKEN_PREFIX)
    now = utcnow()
    with db.atomic():
        # prepared.insert: this is the service's busiest write (see server/prepared.py).
        req = prepared.insert(Request(
            kind=scope.kind,
            state=states.RECEIVED,
            host=scope.host,
            owner=scope.owner,
            name=scope.name,
            path=scope.path,
            line=scope.line,
            content_sha256=scope.content_sha256,
            notes=notes,
            status_token_hash=hash_token(token),
            created_at=now,
            updated_at=now,
        ))
        actor = f"owner:request:{req.id}"
        prepared.insert(RequestEvent(
            request=req,
            from_state=None,
            to_state=states.RECEIVED,
            actor=actor,
            actor_role=states.OWNER,
            created_at=now,
        ))
        record_action(actor, "request.received", f"request:{req.id}", details={"kind": req.kind})
    return req, token


def get_request(request_id: int, principal: Principal | None) -> Request:
    """Load a request the principal may see; owners see only their own."""
    if not 0 < request_id <= MAX_ID:  # SQLite cannot even bind an int beyond 64 bits (500)
        raise not_found("request", request_id)
    req = Request.get_or_none(Request.id == request_id)
    if req is None or (
        principal and principal.role == states.OWNER and principal.request_id != req.id
    ):
        raise not_found("request", request_id)
    return req


def history(req: Request) -> list[RequestEvent]:
    return list(req.events.order_by(RequestEvent.id))


def clean_reason(reason: str | None, required: str | None = None) -> str | None:
    """Strip a reviewer's or owner's reason; blank is none; bounded in length.

    ``required``: the message to refuse a missing reason with (422 ``reason_required``).
    """
    reason = (reason or "").strip() or None
    if reason is None and required:
        raise ApiError(422, "reason_required", required, {"field": "reason"})
    if reason is not None and len(reason) > MAX_REASON:
        raise ApiError(
            422,
            "reason_too_long",
            f"a reason is limited to {MAX_REASON} characters",
            {"field": "reason"},
        )
    return reason


def _require_version(req: Request, if_match: set[str]) -> None:
    """Refuse to act on a version the caller did not read (412 with the current ETag)."""
    if etag_of(req) not in if_match:
        raise ApiError(
            412,
            "precondition_failed",
            "the request changed since you read it; reload and try again",
            {"current_etag": etag_of(req), "state": req.state},
            headers={"ETag": f'"{etag_of(req)}"'},
        )


def transition_request(
    request_id: int, target: str, reason: str | None, principal: Principal, if_match: set[str]
) -> Request:
    """Move a request to ``target`` if allowed, the caller's version is current, and audit it.

    Raises:
        ApiError: 404 unknown, 412 stale version, 409 invalid transition, 403 role not
            allowed for this transition, 422 reason missing or too long.
    """
    reason = clean_reason(reason)
    with db.atomic():
        req = get_request(request_id, principal)
        _require_version(req, if_match)
        step = states.transition_for(req.state, target)
        if step is None:
            raise ApiError(
                409,
                "invalid_transition",
                f"a request cannot go from {req.state} to {target}",
                {"state": req.state, "allowed": states.targets_from(req.state)},
            )
        if principal.role not in step.roles:
            raise ApiError(
                403,
                "transition_forbidden",
                f"the role {principal.role!r} may not move a request to {target}",
                {"state": req.state, "allowed": states.targets_from(req.state, principal.role)},
            )
        if step.reason_required and reason is None:
            raise ApiError(
                422,
                "reason_required",
                f"moving a request to {target} needs a reason",
                {"field": "reason"},
            )
        _apply(req, step, reason, principal.actor, principal.role)
        if (step.source, step.target) == (states.CONFIRMED, states.VERIFIED):
            # A reviewer's verification is itself proof of authority: keep the note as evidence.
            Evidence.create(request=req, method="manual", detail=reason, actor=principal.actor)
    return req


def request_reinclusion(request_id: int, principal: Principal, if_match: set[str]) -> Request:
    """Record that the owner asks for a published removal to be reverted.

    Reviewers then decide (``published → reverted``); asking twice is refused.
    """
    with db.atomic():
        req = get_request(request_id, principal)
        _require_version(req, if_match)
        if req.state != states.PUBLISHED:
            raise ApiError(
                409,
                "not_published",
                "re-inclusion can be asked only after the removal was published; "
                "before that, withdraw the request",
                {"state": req.state},
            )
        if req.reinclusion_requested_at is not None:
            raise ApiError(
                409,
                "reinclusion_already_requested",
                "re-inclusion was already asked for; a reviewer will decide",
            )
        now = utcnow()
        changed = (
            Request.update(
                reinclusion_requested_at=now, version=Request.version + 1, updated_at=now
            )
            .where((Request.id == req.id) & (Request.version == req.version))
            .execute()
        )
        if changed != 1:
            raise ApiError(412, "precondition_failed", "the request changed while you acted on it")
        RequestEvent.create(
            request=req,
            from_state=req.state,
            to_state=req.state,
            actor=principal.actor,
            actor_role=principal.role,
            reason="re-inclusion requested",
            created_at=now,
        )
        record_action(principal.actor, "request.reinclusion_requested", f"request:{req.id}")
    return get_request(request_id, principal)


def system_transition(req: Request, target: str, reason: str, actor: str = "system") -> Request:
    """Take a transition reserved to the service itself (e.g. publication); inside a transaction."""
    step = states.transition_for(req.state, target)
    if step is None or states.SYSTEM not in step.roles:
        raise ApiError(
            409, "invalid_transition", f"a request cannot go from {req.state} to {target}"
        )
    with db.atomic():
        _apply(req, step, reason, actor, states.SYSTEM)
    return req


def _apply(
    req: Request, step: states.Transition, reason: str | None, actor: str, role: str
) -> None:
    now = utcnow()
    changed = (
        Request.update(state=step.target, version=Request.version + 1, updated_at=now)
        .where((Request.id == req.id) & (Request.version == req.version))
        .execute()
    )
    if changed != 1:  # someone else won the race between our read and our write
        raise ApiError(412, "precondition_failed", "the request changed while you acted on it")
    RequestEvent.create(
        request=req,
        from_state=req.state,
        to_state=step.target,
        actor=actor,
        actor_role=role,
        reason=reason,
        created_at=now,
    )
    record_action(
        actor, step.action, f"request:{req.id}", reason, {"from": req.state, "to": step.target}
    )
    req.state, req.version, req.updated_at = step.target, req.version + 1, now


@dataclass
class RequestFilter:
    state: list[str] | None = None
    kind: list[str] | None = None
    host: str | None = None
    q: str | None = None
    min_age_days: float | None = None
    max_age_days: float | None = None
    sort: str = "created"
    reinclusion_requested: bool | None = None
    page: int = 1
    per_page: int = 50
    after: str | None = None


def list_requests(flt: RequestFilter) -> tuple[list[Request], int, str | None]:
    """Return one page of requests matching the filter, the total, and the next cursor.

    With ``after`` (a cursor from the previous page) the page starts after that row in the
    sort order (keyset paging): rows that leave or join the filter meanwhile (a reviewer
    decides one) neither shift the next page nor make it skip a row, as offsets would.
    """
    query = _matching(Request.select(), flt)
    if flt.state:
        query = query.where(Request.state.in_(flt.state))
    total = query.count()
    key = flt.sort.lstrip("-")
    column, descending = SORTS[key], flt.sort.startswith("-")
    query = query.order_by(column.desc() if descending else column.asc(), Request.id)

    def beyond(value, last_id):
        return (column < value if descending else column > value) | (
            (column == value) & (Request.id > last_id)
        )

    rows, following = cursors.keyset_page(
        query,
        page=flt.page,
        per_page=flt.per_page,
        after=flt.after,
        sort=flt.sort,
        kind=SORT_TYPES.get(key, str),
        beyond=beyond,
        position=lambda row: (getattr(row, column.name), row.id),
    )
    return rows, total, following


def count_by_state(flt: RequestFilter) -> dict[str, int]:
    """Count the requests matching every filter but the state, per state (all states listed)."""
    query = _matching(Request.select(Request.state, fn.COUNT(Request.id)), flt)
    counts = dict.fromkeys(states.STATES, 0)
    for state, count in query.group_by(Request.state).tuples():
        counts[state] = count
    return counts


def _matching(query, flt: RequestFilter):
    """Apply the filter's kind, flag, host, age and text conditions (not the state)."""
    if flt.kind:
        query = query.where(Request.kind.in_(flt.kind))
    if flt.reinclusion_requested is not None:
        flag = Request.reinclusion_requested_at.is_null(not flt.reinclusion_requested)
        query = query.where(flag)
    if flt.host:
        query = query.where(Request.host == flt.host.strip().lower())
    now = utcnow()
    if flt.min_age_days is not None:
        query = query.where(Request.created_at <= now - dt.timedelta(days=flt.min_age_days))
    if flt.max_age_days is not None:
        query = query.where(Request.created_at >= now - dt.timedelta(days=flt.max_age_days))
    if flt.q:
        text = flt.q.strip()
        query = query.where(
            Request.host.contains(text)
            | Request.owner.contains(text)
            | Request.name.contains(text)
            | Request.path.contains(text)
            | Request.notes.contains(text)
        )
    return query
