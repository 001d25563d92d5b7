"""PII review: ingest pipelines' findings, show them masked, reveal one for a reason, decide.

A finding is one value in one file content, keyed by (content SHA-256, rule, span): the same
file ingested again, from any repository, is the same finding, with one more location. Its
context snippet (a few lines around the value, sent by the pipeline) is encrypted before it
is stored (``server.pii_context``); the raw value exists nowhere else on the server, and only
`reveal_finding` returns it, after writing an audit entry that names the finding and never
the value. Decisions are keyed by (fingerprint, rule): they hold for every copy of a value
and every later rebuild, and ``optout pii decisions export`` hands them to the redactor.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from flask import current_app
from peewee import JOIN

from server import cursors
from server.audit import record_action
from server.db import db, is_postgres
from server.errors import ApiError, not_found
from server.models import PiiDecision, PiiDecisionEvent, PiiFinding, PiiLocation, Request, utcnow
from server.pii_context import decrypt_context, encrypt_context
from server.workflows.licenses import repository_key
from server.workflows.requests import clean_reason
from shared.pii import fingerprint as fingerprint_of

DECISIONS = ("confirmed", "false_positive")
MAX_LOCATIONS = 20  # locations listed with each finding
MAX_ID = 2**31 - 1  # ids are SERIAL (32-bit) on PostgreSQL
MASKED_ELSEWHERE = "****"


def binding_of(finding: PiiFinding | dict) -> str:
    """What a finding's ciphertext is bound to: its content, rule and span."""
    get = finding.get if isinstance(finding, dict) else lambda name: getattr(finding, name)
    return f"{get('content_sha256')}:{get('rule')}:{get('start')}:{get('end')}"


def subject_of(finding: PiiFinding) -> str:
    return f"pii_finding:{finding.id}"


# --- ingestion ----------------------------------------------------------------------------


def ingest_findings(items: list[dict], actor: str) -> list[dict]:
    """Store many findings with their context in one transaction.

    Args:
        items: ``Finding.to_json()`` plus ``host``, ``owner``, ``name`` and
            ``context: {"text", "value_start"}`` each (schema-checked by the caller).
        actor: who ingests (unused for now: ingestion decides nothing, so it is not logged).

    Returns:
        One ``{"id", "status": "created" | "linked" | "unchanged"}`` per item, in order;
        ``linked``: a known finding seen at a new location.

    Raises:
        ApiError: 422 or 409 when any item is invalid (``details.index``); nothing is
            written then.
    """
    prepared = []
    for index, item in enumerate(items):
        try:
            prepared.append((repository_key(item["host"], item["owner"], item["name"]), item))
            _check_value(item)
        except ApiError as error:
            error.details = {**error.details, "index": index}
            error.message = f"findings.{index}: {error.message}"
            raise
    with db.atomic():
        results = []
        for index, (key, item) in enumerate(prepared):
            try:
                results.append(_ingest_one(key, item))
            except ApiError as error:
                error.details = {**error.details, "index": index}
                error.message = f"findings.{index}: {error.message}"
                raise
        return results


def _check_value(item: dict) -> None:
    """The context must hold the value where it says, and nothing may show it in clear."""
    text, at = item["context"]["text"], item["context"]["value_start"]
    length = item["end"] - item["start"]
    if length <= 0:
        raise ApiError(422, "invalid_span", "end must be after start", {"field": "end"})
    if at + length > len(text):
        raise ApiError(
            422,
            "context_mismatch",
            "the context does not hold the whole value at value_start",
            {"field": "context.value_start"},
        )
    value = text[at : at + length]
    key = current_app.config.get("PII_FINGERPRINT_KEY")
    if key:
        expected = fingerprint_of(str(key).encode("utf-8"), item["rule"], value)
        if not hmac.compare_digest(expected, item["fingerprint"]):
            raise ApiError(
                422,
                "fingerprint_mismatch",
                "the fingerprint is not the value's under this server's key",
                {"field": "fingerprint"},
            )
    if len(value) >= 4 and value in item["masked"]:
        raise ApiError(
            422, "masked_reveals_value", "the masked preview holds the value", {"field": "masked"}
        )


def _ingest_one(key, item: dict) -> dict:
    where = (
        (PiiFinding.content_sha256 == item["content_sha256"])
        & (PiiFinding.rule == item["rule"])
        & (PiiFinding.start == item["start"])
        & (PiiFinding.end == item["end"])
    )
    finding = PiiFinding.get_or_none(where)
    status = "unchanged"
    if finding is None:
        context = item["context"]
        PiiFinding.insert(
            **{name: item[name] for name in _FINDING_FIELDS},
            context=encrypt_context(context["text"], binding_of(item)),
            context_value_start=context["value_start"],
            created_at=utcnow(),
        ).on_conflict_ignore().execute()  # a concurrent ingest may have made it meanwhile
        finding, status = PiiFinding.get(where), "created"
    elif finding.fingerprint != item["fingerprint"]:
        raise ApiError(
            409,
            "finding_conflict",
            "this file, rule and span were ingested with another fingerprint (another key?)",
            {"id": finding.id},
        )
    if _add_location(finding, key, item["path"]) and status == "unchanged":
        status = "linked"
    return {"id": finding.id, "status": status}


_FINDING_FIELDS = (
    "content_sha256", "start", "end", "line", "column", "kind", "rule", "tier", "fingerprint",
    "masked",
)  # fmt: skip


def _add_location(finding: PiiFinding, key, path: str) -> bool:
    """Record where the finding was seen; return False when that location was known."""
    known = PiiLocation.select(PiiLocation.id).where(
        (PiiLocation.finding == finding.id)
        & (PiiLocation.host == key.host)
        & (PiiLocation.owner_key == key.owner_key)
        & (PiiLocation.name_key == key.name_key)
        & (PiiLocation.path == path)
    )
    if known.exists():
        return False
    PiiLocation.insert(
        finding=finding,
        host=key.host,
        owner=key.owner,
        owner_key=key.owner_key,
        name=key.name,
        name_key=key.name_key,
        path=path,
        created_at=utcnow(),
    ).on_conflict_ignore().execute()  # a concurrent ingest may have added it meanwhile
    return True


# --- reading ------------------------------------------------------------------------------


@dataclass
class FindingFilter:
    host: str | None = None
    owner: str | None = None
    name: str | None = None
    kind: str | None = None
    tier: int | None = None
    decision: str | None = None  # confirmed | false_positive | none
    page: int = 1
    per_page: int = 50
    after: str | None = None


def list_findings(flt: FindingFilter) -> tuple[list[PiiFinding], int, str | None]:
    """One page of findings (oldest first) with ``.current`` decision, the total, and the
    next cursor (``after`` continues after the last finding seen; see list_requests)."""
    query = _with_decisions(PiiFinding.select(PiiFinding, PiiDecision))
    if flt.host or flt.owner or flt.name:
        located = PiiLocation.select(PiiLocation.finding).where(
            *_location_terms(flt.host, flt.owner, flt.name)
        )
        query = query.where(PiiFinding.id.in_(located))
    if flt.kind:
        query = query.where(PiiFinding.kind == flt.kind)
    if flt.tier:
        query = query.where(PiiFinding.tier == flt.tier)
    if flt.decision == "none":
        query = query.where(PiiDecision.id.is_null())
    elif flt.decision:
        query = query.where(PiiDecision.decision == flt.decision)
    total = query.count()
    rows, following = cursors.keyset_page(
        query.order_by(PiiFinding.id),
        page=flt.page,
        per_page=flt.per_page,
        after=flt.after,
        sort="id",
        kind=int,
        beyond=lambda _, last_id: PiiFinding.id > last_id,
        position=lambda row: (row.id, row.id),
    )
    return rows, total, following


def _with_decisions(query):
    return query.join(
        PiiDecision,
        JOIN.LEFT_OUTER,
        on=(PiiDecision.fingerprint == PiiFinding.fingerprint)
        & (PiiDecision.rule == PiiFinding.rule),
        attr="current",
    )


def _location_terms(host: str | None, owner: str | None, name: str | None) -> list:
    terms = []
    if host:
        terms.append(PiiLocation.host == host.strip().lower())
    if owner:
        terms.append(PiiLocation.owner_key == owner.strip().lower())
    if name:
        terms.append(PiiLocation.name_key == name.strip().lower())
    return terms


def get_finding(finding_id: int) -> PiiFinding:
    """Return the finding with its ``.current`` decision (or None), or 404."""
    query = _with_decisions(PiiFinding.select(PiiFinding, PiiDecision))
    in_range = 0 < finding_id <= MAX_ID  # SQLite cannot even bind an int beyond 64 bits
    finding = query.where(PiiFinding.id == finding_id).first() if in_range else None
    if finding is None:
        raise not_found("PII finding", finding_id)
    return finding


def current_decision(finding: PiiFinding) -> PiiDecision | None:
    decision = getattr(finding, "current", None)
    return decision if decision is not None and decision.id is not None else None


def locations_of(findings: list[PiiFinding], limit: int = MAX_LOCATIONS) -> dict[int, list]:
    """Each finding's locations (up to ``limit``, oldest first), by finding id."""
    found: dict[int, list] = {f.id: [] for f in findings}
    if not found:
        return found
    rows = PiiLocation.select().where(PiiLocation.finding.in_(list(found))).order_by(PiiLocation.id)
    for row in rows:
        if len(found[row.finding_id]) < limit:
            found[row.finding_id].append(row)
    return found


def decision_history(finding: PiiFinding) -> list[PiiDecisionEvent]:
    decision = current_decision(finding)
    if decision is None:
        return []
    return list(decision.events.order_by(PiiDecisionEvent.id.desc()))


def masked_context(finding: PiiFinding) -> dict:
    """The snippet with this finding's value, and every other known one in it, masked.

    Returns ``{"text", "value_start", "value_end"}``, the offsets indexing ``text``.
    """
    text = decrypt_context(finding.context, binding_of(finding))
    offset = finding.start - finding.context_value_start  # the snippet's start in the file
    window_end = offset + len(text)
    others = (
        PiiFinding.select(PiiFinding.start, PiiFinding.end, PiiFinding.masked, PiiFinding.id)
        .where(
            (PiiFinding.content_sha256 == finding.content_sha256)
            & (PiiFinding.start < window_end)
            & (PiiFinding.end > offset)
        )
        .order_by(PiiFinding.start, PiiFinding.end.desc())
    )
    pieces, cursor, value_start, value_end = [], 0, 0, 0
    for other in others:
        start, end = max(other.start - offset, 0), min(other.end - offset, len(text))
        if end <= cursor:
            continue
        start = max(start, cursor)  # overlaps another span: mask the rest of this one
        inside = other.start >= offset and other.end <= window_end and start == other.start - offset
        pieces.append(text[cursor:start])
        replacement = other.masked if inside else MASKED_ELSEWHERE
        if other.id == finding.id:
            value_start = sum(map(len, pieces))
            value_end = value_start + len(replacement)
        pieces.append(replacement)
        cursor = end
    pieces.append(text[cursor:])
    return {"text": "".join(pieces), "value_start": value_start, "value_end": value_end}


def findings_of_request(request_id: int) -> tuple[Request, list[PiiFinding]]:
    """The findings at a ``file`` request's path in its repository (every content seen there).

    Raises:
        ApiError: 404 no such request; 422 not a ``file`` request.
    """
    req = Request.get_or_none(Request.id == request_id) if 0 < request_id <= MAX_ID else None
    if req is None:
        raise not_found("request", request_id)
    if req.kind != "file":
        raise ApiError(
            422,
            "not_a_file_request",
            f"request {request_id} is a {req.kind} request; only file requests have findings",
        )
    located = PiiLocation.select(PiiLocation.finding).where(
        *_location_terms(req.host, req.owner, req.name), PiiLocation.path == req.path
    )
    query = _with_decisions(PiiFinding.select(PiiFinding, PiiDecision)).where(
        PiiFinding.id.in_(located)
    )
    return req, list(query.order_by(PiiFinding.line, PiiFinding.column, PiiFinding.id))


# --- revealing and deciding ---------------------------------------------------------------


def reveal_finding(finding_id: int, reason: str | None, actor: str) -> dict:
    """Return a finding's raw value and context, after logging who revealed it and why.

    Returns:
        ``{"id", "value", "context", "value_start", "value_end"}``.

    Raises:
        ApiError: 404 no such finding; 422 reason missing or too long.
    """
    reason = required_reason(reason, "revealing a value needs a reason")
    finding = get_finding(finding_id)
    text = decrypt_context(finding.context, binding_of(finding))
    start = finding.context_value_start
    end = start + finding.end - finding.start
    with db.atomic():  # the value leaves only once its audit entry is written
        record_action(
            actor,
            "pii.revealed",
            subject_of(finding),
            reason,
            {"kind": finding.kind, "rule": finding.rule},
        )
    return {
        "id": finding.id,
        "value": text[start:end],
        "context": text,
        "value_start": start,
        "value_end": end,
    }


def required_reason(reason: str | None, message: str) -> str:
    return clean_reason(reason, required=message)




def decide(items: list[dict], actor: str) -> list[dict]:
    """Record many decisions in one transaction; an unchanged decision adds nothing.

    Args:
        items: ``{"fingerprint", "rule", "decision", "reason"?}`` each (schema-checked).

    Returns:
        One ``{"decision": PiiDecision, "previous", "status": "changed" | "unchanged"}``
        per item, in order.

    Raises:
        ApiError: 422 when any item names no ingested finding or has a bad reason
            (``details.index``); nothing is written then.
    """
    with db.atomic():
        results = []
        for index, item in enumerate(items):
            try:
                results.append(_decide_one(item, actor))
            except ApiError as error:
                error.details = {**error.details, "index": index}
                error.message = f"decisions.{index}: {error.message}"
                raise
        return results


def _decide_one(item: dict, actor: str) -> dict:
    fingerprint, rule = item["fingerprint"], item["rule"]
    reason = item.get("reason")
    reason = clean_reason(reason)
    known = PiiFinding.select(PiiFinding.kind).where(
        (PiiFinding.fingerprint == fingerprint) & (PiiFinding.rule == rule)
    )
    finding = known.first()
    if finding is None:
        raise ApiError(
            422,
            "unknown_finding",
            "no ingested finding has this fingerprint and rule",
            {"field": "fingerprint"},
        )

    def locked() -> PiiDecision | None:  # a new query each time: peewee caches results
        query = PiiDecision.select().where(
            (PiiDecision.fingerprint == fingerprint) & (PiiDecision.rule == rule)
        )
        # SQLite transactions here begin IMMEDIATE: they already hold the write lock.
        return query.for_update().first() if is_postgres() else query.first()

    row = locked()
    previous = row.decision if row is not None else None
    if previous == item["decision"]:
        return {"decision": row, "previous": previous, "status": "unchanged"}
    now = utcnow()
    if row is None:
        PiiDecision.insert(
            fingerprint=fingerprint, rule=rule, decision=item["decision"], actor=actor,
            reason=reason, decided_at=now,
        ).on_conflict_ignore().execute()  # fmt: skip
        row = locked()
    row.decision, row.actor, row.reason, row.decided_at = item["decision"], actor, reason, now
    row.save()
    PiiDecisionEvent.create(
        decision=row,
        from_decision=previous,
        to_decision=row.decision,
        actor=actor,
        reason=reason,
        created_at=now,
    )
    details = {"decision": row.decision, "previous": previous, "kind": finding.kind, "rule": rule}
    record_action(actor, "pii.decided", f"pii_decision:{row.id}", reason, details)
    return {"decision": row, "previous": previous, "status": "changed"}


def export_decisions():
    """Yield every decision as the redactor reads it: ``{"fingerprint", "rule", "decision"}``."""
    query = PiiDecision.select(PiiDecision.fingerprint, PiiDecision.rule, PiiDecision.decision)
    for fingerprint, rule, decision in query.order_by(PiiDecision.id).tuples().iterator():
        yield {"fingerprint": fingerprint, "rule": rule, "decision": decision}
