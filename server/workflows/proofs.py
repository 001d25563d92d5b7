"""Proof of authority by challenge files fetched from the forge, and the evidence kept.

A confirmed request is verified (``confirmed -> verified``, by the service) when the owner
puts a challenge token in a file at ``CHALLENGE_PATH`` of the repository, or of one of the
account's profile repositories, and asks for a check. An organisation-wide (``owner``)
request is verified by a token in the organisation's own profile repositories, or by two
distinct member accounts that each put a token in their own profile repositories (a
co-signature). E-mailed links are in ``email_proofs``; a reviewer's manual verification is
recorded as evidence by the transition itself (``requests.transition_request``).

Fetches run outside database transactions; what they found is then written in one
transaction with its audit records.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from dataclasses import dataclass
from urllib.parse import quote

from flask import current_app

from server.audit import record_action
from server.auth import Principal
from server.db import db, is_postgres
from server.errors import ApiError, not_found
from server.fetcher import FetchError, fetch_text
from server.models import Challenge, EmailProof, Evidence, Request, utcnow
from server.workflows.requests import get_request, system_transition
from shared import states
from shared.scope import ScopeError, check_owner

CHALLENGE_PREFIX = "optout-verify-"
MAX_OPEN_CHALLENGES = 5
CO_SIGNERS = 2
CHECK_BUDGET_SECONDS = 25.0  # all fetches of one check, so an answer comes in time


@dataclass
class CheckResult:
    """What one check found: whether the request is now verified, and each URL's outcome."""

    request: Request
    verified: bool
    message: str
    challenges: list[dict]


def subject_of(req: Request) -> str:
    return f"request:{req.id}"


def require_state(req: Request, *allowed: str) -> None:
    if req.state not in allowed:
        raise ApiError(
            409,
            "invalid_state",
            f"this needs a request that is {' or '.join(allowed)}; this one is {req.state}",
            {"state": req.state, "needed": list(allowed)},
        )


def locked_request(request_id: int) -> Request:
    """Re-read a request inside a transaction, locking its row where the database can."""
    query = Request.select().where(Request.id == request_id)
    if is_postgres():  # SQLite transactions are IMMEDIATE: writers are serialised already
        query = query.for_update()
    req = query.get_or_none()
    if req is None:
        raise not_found("request", request_id)
    return req


# -- challenge files ---------------------------------------------------------------------


def _same_account(a: str, b: str) -> bool:
    return a.lower() == b.lower()  # forges ignore case in account names


def _member_account(req: Request, account: str | None) -> str:
    """Return the account a new challenge is for: the request's owner, or a member."""
    if account is None or _same_account(account.strip(), req.owner):
        return req.owner
    if req.kind != "owner":
        raise ApiError(
            422,
            "account_not_allowed",
            "only an organisation-wide (owner) request takes a member's co-signature; "
            "leave account out to prove authority over the request's own account",
            {"field": "account"},
        )
    try:
        member = check_owner(account)
    except ScopeError as error:
        raise ApiError(422, "invalid_account", error.message, {"field": "account"}) from None
    if "/" in member:
        raise ApiError(
            422,
            "invalid_account",
            "a member is a single account, not a group",
            {"field": "account"},
        )
    return member


def _raw_url(host: str, owner: str, name: str, path: str) -> str:
    template = current_app.config["RAW_URL_TEMPLATES"].get(host)
    if not template:
        raise ApiError(
            409,
            "no_raw_template",
            f"challenge files cannot be fetched from {host} on this server; "
            "use an e-mailed link or ask a reviewer to verify the request",
            {"host": host},
        )
    values = {"owner": quote(owner, safe="/"), "name": quote(name, safe=""), "path": path}
    try:
        return template.format_map(values)
    except (KeyError, IndexError, ValueError):
        raise ApiError(
            409, "no_raw_template", f"the raw-file URL template of {host} is misconfigured"
        ) from None


def _profile_repositories(account: str) -> list[str]:
    last = account.rsplit("/", 1)[-1]
    return [p.format(owner=last) for p in current_app.config["PROFILE_REPOSITORIES"]]


def challenge_path() -> str:
    """Return the path, in a repository, of the file that holds a challenge token."""
    return current_app.config["CHALLENGE_PATH"].strip("/")


def candidate_urls(req: Request, account: str) -> list[str]:
    """List, in order, the raw-file URLs where a challenge for ``account`` is looked for."""
    path = quote(challenge_path(), safe="/")
    repos: list[tuple[str, str]] = []
    if _same_account(account, req.owner) and req.name:
        repos.append((req.owner, req.name))
    repos += [(account, name) for name in _profile_repositories(account)]
    urls = [_raw_url(req.host, owner, name, path) for owner, name in repos]
    return list(dict.fromkeys(urls))


def create_challenge(
    request_id: int, principal: Principal, account: str | None = None
) -> tuple[Challenge, bool]:
    """Give the owner a token to publish; return it and whether it was made just now.

    An open challenge for the same account is returned again rather than replaced, so a
    token already placed in a file keeps working until it expires.
    """
    if principal.role != states.OWNER:
        raise ApiError(403, "forbidden", "only the request's owner creates challenges")
    ttl = dt.timedelta(hours=float(current_app.config["CHALLENGE_TTL_HOURS"]))
    with db.atomic():
        req = locked_request(get_request(request_id, principal).id)
        require_state(req, states.CONFIRMED)
        account = _member_account(req, account)
        candidate_urls(req, account)  # refuses hosts without a raw-file template
        now = utcnow()
        existing = list(req.challenges)
        mine = [c for c in existing if _same_account(c.account, account)]
        if any(c.verified_at is not None for c in mine):
            raise ApiError(
                409,
                "already_verified",
                f"a challenge for {account} is verified already",
                {"account": account},
            )
        for challenge in mine:
            if challenge.expires_at > now:
                return challenge, False
        open_count = sum(1 for c in existing if c.verified_at is None and c.expires_at > now)
        if open_count >= MAX_OPEN_CHALLENGES:
            raise ApiError(
                409,
                "too_many_challenges",
                f"a request has at most {MAX_OPEN_CHALLENGES} open challenges",
            )
        challenge = Challenge.create(
            request=req,
            account=account,
            token=CHALLENGE_PREFIX + secrets.token_hex(16),
            created_at=now,
            expires_at=now + ttl,
        )
        record_action(
            principal.actor,
            "proof.challenge_created",
            subject_of(req),
            details={"challenge": challenge.id, "member": account != req.owner},
        )
    return challenge, True


def _check_url(url: str, token: str, budget_left: float) -> dict:
    cfg = current_app.config
    if budget_left <= 0:
        return {
            "url": url,
            "outcome": "not_checked",
            "status": None,
            "message": "not checked: this check ran out of time; try again",
        }
    try:
        text = fetch_text(
            url,
            timeout=min(float(cfg["FETCH_TIMEOUT"]), budget_left),
            max_bytes=int(cfg["FETCH_MAX_BYTES"]),
            allow_private=bool(cfg["FETCH_ALLOW_PRIVATE"]),
            verify=cfg.get("FETCH_CA_BUNDLE") or True,
        )
    except FetchError as error:
        return {"url": url, "outcome": error.code, "status": error.status, "message": error.message}
    if any(line.strip() == token for line in text.splitlines()):
        return {"url": url, "outcome": "found", "status": 200, "message": "the token is there"}
    return {
        "url": url,
        "outcome": "token_missing",
        "status": 200,
        "message": "the file is there but does not hold the token on a line of its own",
    }


def _fetch_all(req: Request, challenges: list[Challenge]) -> tuple[list[dict], list]:
    """Look for each challenge's token at its URLs; stop at the first URL that has it."""
    deadline = time.monotonic() + CHECK_BUDGET_SECONDS
    reports, found = [], []
    for challenge in challenges:
        checks = []
        for url in candidate_urls(req, challenge.account):
            checks.append(_check_url(url, challenge.token, deadline - time.monotonic()))
            if checks[-1]["outcome"] == "found":
                found.append((challenge, url))
                break
        reports.append({"challenge": challenge, "checks": checks})
    return reports, found


def _verification(req: Request) -> str | None:
    """Say why the request's verified challenges prove authority, or None if they do not."""
    proofs = list(
        Evidence.select()
        .where((Evidence.request == req.id) & (Evidence.method == "challenge"))
        .order_by(Evidence.id)
    )
    own = [e for e in proofs if _same_account(e.account, req.owner)]
    if own:
        return f"challenge file found for the account (evidence {own[0].id})"
    if req.kind != "owner":
        return None
    members: dict[str, Evidence] = {}
    for evidence in proofs:
        members.setdefault(evidence.account.lower(), evidence)
    if len(members) < CO_SIGNERS:
        return None
    refs = ", ".join(str(e.id) for e in list(members.values())[:CO_SIGNERS])
    return f"co-signed by two verified members (evidence {refs})"


def _record_found(request_id: int, found: list, principal: Principal) -> tuple[Request, bool]:
    """Mark found challenges verified, add evidence, and verify the request if proven."""
    with db.atomic():
        req = locked_request(request_id)
        require_state(req, states.CONFIRMED)
        now = utcnow()
        for challenge, url in found:
            claimed = (
                Challenge.update(verified_at=now, verified_url=url)
                .where((Challenge.id == challenge.id) & Challenge.verified_at.is_null())
                .execute()
            )
            if claimed != 1:  # a concurrent check got there first
                continue
            evidence = Evidence.create(
                request=req,
                method="challenge",
                account=challenge.account,
                detail=url,
                actor=principal.actor,
                created_at=now,
            )
            record_action(
                principal.actor,
                "proof.challenge_verified",
                subject_of(req),
                details={"challenge": challenge.id, "evidence": evidence.id},
            )
        reason = _verification(req)
        if reason is not None:
            system_transition(req, states.VERIFIED, reason)
    return req, reason is not None


def check_challenges(request_id: int, principal: Principal) -> CheckResult:
    """Fetch the open challenges of a confirmed request and verify it if they prove authority.

    Fetch failures are outcomes in the result, not errors.

    Raises:
        ApiError: 404 unknown (or another owner's), 409 ``invalid_state`` (not confirmed,
            e.g. verified already) or ``no_open_challenge``.
    """
    req = get_request(request_id, principal)
    require_state(req, states.CONFIRMED)
    now = utcnow()
    challenges = list(req.challenges.where(Challenge.verified_at.is_null()).order_by(Challenge.id))
    open_ = [c for c in challenges if c.expires_at > now]
    if not open_:
        raise ApiError(
            409,
            "no_open_challenge",
            "there is no open challenge to check: create one (they expire after "
            f"{current_app.config['CHALLENGE_TTL_HOURS']} hours)",
            {"expired": len(challenges)},
        )
    reports, found = _fetch_all(req, open_)
    verified = False
    if found:
        req, verified = _record_found(req.id, found, principal)
    for report in reports:
        report["challenge"] = Challenge.get_by_id(report["challenge"].id)
    if verified:
        message = "authority proven: the request is verified"
    elif found and req.kind == "owner":
        message = (
            "a member's co-signature is recorded; a second member (or the organisation's own "
            "profile repository) is still needed"
        )
    else:
        message = "the token was not found; see each URL's outcome"
    return CheckResult(req, verified, message, reports)


# -- reading -----------------------------------------------------------------------------


def list_proofs(request_id: int, principal: Principal) -> tuple[Request, dict]:
    """Return a request's evidence, challenges and (masked) e-mailed links."""
    req = get_request(request_id, principal)
    return req, {
        "evidence": list(req.evidence.order_by(Evidence.id)),
        "challenges": list(req.challenges.order_by(Challenge.id)),
        "email_proofs": list(req.email_proofs.order_by(EmailProof.id)),
    }
