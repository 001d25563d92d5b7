"""Exclusion lists: build the next list from approved requests, preview it, publish it signed.

The list holds a rule for every request that is approved or already published (reverted,
withdrawn and rejected ones drop out). Publishing moves the approved requests to
``published``, logs the publication, signs a log checkpoint that holds it, and signs the
manifest (version, issued, expires, body hash and size, ``prev``, that checkpoint) with the
log's key. Published lists are never changed; a re-sign issues a new version of the same body
with a fresh expiry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from flask import current_app

from server import checkpoints
from server.audit import record_action
from server.auditlog import locked_size
from server.db import db
from server.errors import ApiError
from server.models import ExclusionList, Request, utcnow
from server.workflows.requests import system_transition
from shared import states
from shared.canonical import canonical_json
from shared.exclusions.format import (
    build_body,
    file_rule,
    new_salt,
    owner_rule,
    parse_body,
    repository_rule,
)
from shared.exclusions.manifest import build_manifest, parse_manifest_text, sign_manifest

ACTIVE = (states.APPROVED, states.PUBLISHED)
MAX_EXPIRES_DAYS = 365


def rule_for(req: Request) -> dict | None:
    """The rule a request enacts; license disputes enact none."""
    if req.kind == "owner":
        return owner_rule(req.host, req.owner)
    if req.kind == "repository":
        return repository_rule(req.host, req.owner, req.name)
    if req.kind == "file":
        return file_rule(req.host, req.owner, req.name, req.path, req.content_sha256)
    return None


def _key(rule: dict) -> str:
    return canonical_json(rule).decode()


def next_rules() -> dict[str, tuple[dict, list[int]]]:
    """Every rule the next list holds, with the requests behind it."""
    rules: dict[str, tuple[dict, list[int]]] = {}
    for req in Request.select().where(Request.state.in_(ACTIVE)).order_by(Request.id):
        rule = rule_for(req)
        if rule is not None:
            rules.setdefault(_key(rule), (rule, []))[1].append(req.id)
    return rules


def latest() -> ExclusionList | None:
    return ExclusionList.select().order_by(ExclusionList.version.desc()).first()


def get_list(version: int) -> ExclusionList:
    found = ExclusionList.get_or_none(ExclusionList.version == version)
    if found is None:
        raise ApiError(404, "not_found", f"there is no exclusion list version {version}")
    return found


def _plain_keys(row: ExclusionList | None) -> set[str]:
    if row is None:
        return set()
    return {_key(rule) for rule in parse_body(bytes(row.plain_body))}


def preview() -> dict:
    """The next list as a diff against the current one, and the requests it would publish."""
    current = latest()
    upcoming = next_rules()
    old = _plain_keys(current)
    approved = [r.id for r in Request.select(Request.id).where(Request.state == states.APPROVED)
                .order_by(Request.id)]
    return {
        "current_version": current.version if current else None,
        "next_version": (current.version if current else 0) + 1,
        "added": [{"rule": upcoming[k][0], "requests": upcoming[k][1]}
                  for k in sorted(set(upcoming) - old)],
        "removed": [{"rule": rule} for rule in parse_body(bytes(current.plain_body))
                    if _key(rule) not in upcoming] if current else [],
        "rules": len(upcoming),
        "requests_to_publish": approved,
    }


def diff(old_version: int, new_version: int) -> dict:
    old, new = _plain_keys(get_list(old_version)), _plain_keys(get_list(new_version))
    return {"old": old_version, "new": new_version,
            "added": [json.loads(k) for k in sorted(new - old)],
            "removed": [json.loads(k) for k in sorted(old - new)]}


def _expiry(now: dt.datetime, days: int) -> dt.datetime:
    if not 1 <= days <= MAX_EXPIRES_DAYS:
        raise ApiError(422, "invalid_expiry", f"expires_days must be 1 to {MAX_EXPIRES_DAYS}")
    return now + dt.timedelta(days=days)


def publish(actor: str, expires_days: int = 30) -> ExclusionList:
    """Publish the next list from the approved and published requests."""
    with db.atomic():
        current = _locked_latest()
        rules = next_rules()
        approved = list(Request.select().where(Request.state == states.APPROVED)
                        .order_by(Request.id))
        version = (current.version if current else 0) + 1
        for req in approved:
            system_transition(req, states.PUBLISHED, f"enacted by exclusion list {version}")
            Request.update(published_in=version).where(Request.id == req.id).execute()
        plain = build_body([r for r, _ in rules.values()])
        salt = new_salt() if current_app.config["EXCLUSIONS_PRIVACY"] else None
        body = build_body([r for r, _ in rules.values()], salt) if salt else plain
        return _sign_and_store(actor, version, current, body, plain, salt, len(rules),
                               expires_days, "exclusions.published",
                               {"requests": [r.id for r in approved]})


def resign(actor: str, expires_days: int = 30) -> ExclusionList:
    """Issue the current body again as a new version with a fresh expiry."""
    with db.atomic():
        current = _locked_latest()
        if current is None:
            raise ApiError(409, "nothing_published", "no exclusion list has been published yet")
        salt = _manifest_salt(current)
        return _sign_and_store(actor, current.version + 1, current, bytes(current.body),
                               bytes(current.plain_body), salt, current.rules, expires_days,
                               "exclusions.resigned", {"from": current.version})


def _manifest_salt(row: ExclusionList) -> bytes | None:
    text = row.note[: row.note.index("\n\n") + 1]
    return parse_manifest_text(text).salt


def _locked_latest() -> ExclusionList | None:
    # Serialise publishers: the log's head row is the one lock every writer shares (SQLite
    # transactions already hold the write lock).
    locked_size()
    return ExclusionList.select().order_by(ExclusionList.version.desc()).first()


def _sign_and_store(actor: str, version: int, current: ExclusionList | None, body: bytes,
                    plain: bytes, salt: bytes | None, rules: int, expires_days: int,
                    action: str, details: dict) -> ExclusionList:
    now = utcnow().replace(microsecond=0)
    expires = _expiry(now, expires_days)
    record_action(actor, action, f"exclusions:{version}",
                  details={"version": version, "sha256": hashlib.sha256(body).hexdigest(),
                           "size": len(body), "rules": rules, **details})
    checkpoint = checkpoints.publish()
    utc = dt.UTC
    manifest = build_manifest(
        body, version=version, issued=now.replace(tzinfo=utc),
        expires=expires.replace(tzinfo=utc),
        prev_note=current.note.encode() if current else None,
        checkpoint=checkpoint.note, salt=salt)
    note = sign_manifest(manifest, [checkpoints.signer()]).decode()
    return ExclusionList.create(version=version, note=note, body=body, plain_body=plain,
                                rules=rules, issued=now, expires=expires)
