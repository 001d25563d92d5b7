"""License verdicts: ingest pipelines' scans, re-judge them, override them, list them.

Each repository (host, owner, name; owner and name matched without regard to case, as forges
do) has an append-only history of verdicts, and the newest is current. A scan is never taken
at its word (``license_scans``): every expression is validated again, ids outside the SPDX
list become ``LicenseRef-…`` and are reported, and the verdict is judged again under the
server's policy. The same scan ingested again (same
content fingerprint, same policy) adds nothing: no row, no audit entry. A reviewer's override
needs a reason and the ETag of the verdict it replaces; it stands until a scan with different
content, or the same scan under another policy version, arrives.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from flask import current_app
from peewee import JOIN, Tuple, fn

from server import cursors
from server.audit import record_action
from server.db import db, is_postgres
from server.errors import ApiError, not_found
from server.models import LicensedRepository, LicenseVerdict, Request, utcnow
from server.workflows.license_scans import PreparedScan, prepare_scan, strict_expression
from server.workflows.requests import clean_reason
from shared.licenses import DEFAULT_POLICY, VERDICTS, Policy
from shared.scope import ScopeError, check_name, check_owner, normalize_host

SCAN, OVERRIDE = "scan", "override"
SOURCES = (SCAN, OVERRIDE)
MAX_DISPUTES = 200
# LicenseRef ids that name no one: ours, and ScanCode's public catalogue.
_PUBLIC_REFS = re.compile(r"^LicenseRef-(?:scancode-[A-Za-z0-9.-]+|public-domain|unidentified)$")
_REF = re.compile(r"LicenseRef-[A-Za-z0-9.-]+")


@dataclass(frozen=True)
class RepositoryKey:
    """A repository as named by a caller, validated; ``*_key`` are the forms that match."""

    host: str
    owner: str
    name: str

    @property
    def owner_key(self) -> str:
        return self.owner.lower()

    @property
    def name_key(self) -> str:
        return self.name.lower()

    def describe(self) -> str:
        return f"{self.host}/{self.owner}/{self.name}"


def repository_key(host: str, owner: str, name: str) -> RepositoryKey:
    """Validate a repository's address like a request's scope.

    Raises:
        ApiError: 422 ``invalid_host``, ``invalid_owner`` or ``invalid_name``.
    """
    try:
        return RepositoryKey(normalize_host(host), check_owner(owner), check_name(name))
    except ScopeError as error:
        raise ApiError(422, error.code, error.message, {"field": error.field}) from None


def server_policy() -> Policy:
    """The policy this server judges with (``LICENSE_POLICY`` in the config, for tests)."""
    return current_app.config.get("LICENSE_POLICY") or DEFAULT_POLICY


def etag_of(repo: LicensedRepository) -> str:
    """The strong entity tag of a repository's current verdict (without quotes)."""
    return f"l{repo.id}-v{repo.current_id}"


def subject_of(repo: LicensedRepository) -> str:
    """The audit log's reference to a repository's license record: never its name."""
    return f"licensed_repository:{repo.id}"


# --- writing verdicts ---------------------------------------------------------------------


def ingest_scans(items: list[dict], actor: str) -> list[dict]:
    """Store the verdicts of many scans in one transaction; each unchanged scan adds nothing.

    Args:
        items: ``{"host", "owner", "name", "scan"}`` each, ``scan`` being
            ``ScanResult.to_json()`` (schema-checked by the caller).
        actor: who ingests, for the audit log (``user:3``, ``cli``).

    Returns:
        One ``{"repository", "verdict", "status": "created" | "unchanged", "unknown"}`` per
        item, in order.

    Raises:
        ApiError: 422 when any item is invalid (``details.index``); nothing is written then.
    """
    policy = server_policy()
    prepared = []
    for index, item in enumerate(items):
        try:
            key = repository_key(item["host"], item["owner"], item["name"])
            prepared.append((key, prepare_scan(item["scan"], policy)))
        except ApiError as error:
            error.details = {**error.details, "index": index}
            error.message = f"scans.{index}: {error.message}"
            raise
    with db.atomic():
        return [_ingest_one(key, scan, policy, actor) for key, scan in prepared]


def _ingest_one(key: RepositoryKey, scan: PreparedScan, policy: Policy, actor: str) -> dict:
    repo = _locked_repository(key, create=True)
    current = current_verdict(repo)
    if (
        current is not None
        and current.fingerprint == scan.fingerprint
        and (current.policy_name, current.policy_version) == (policy.name, policy.version)
    ):
        return {
            "repository": repo,
            "verdict": current,
            "status": "unchanged",
            "unknown": scan.unknown,
        }
    row = _add_verdict(
        repo,
        current,
        expression=scan.expression,
        verdict=scan.verdict,
        admitted=scan.admitted,
        evidence=json.dumps(scan.evidence, separators=(",", ":")),
        detector=scan.detector,
        detector_version=scan.detector_version,
        policy=policy,
        source=SCAN,
        reason=None,
        actor=actor,
        fingerprint=scan.fingerprint,
    )
    record_action(actor, "license.verdict_set", subject_of(repo), details=_audit_details(row))
    return {"repository": repo, "verdict": row, "status": "created", "unknown": scan.unknown}


_KEEP = object()


def override_verdict(
    key: RepositoryKey,
    reason: str | None,
    actor: str,
    if_match: set[str],
    expression: str | None | object = _KEEP,
    verdict: str | None = None,
) -> LicensedRepository:
    """Replace a repository's current verdict with a reviewer's, for a reason.

    ``expression`` (None: no license) defaults to the current one; ``verdict`` defaults to
    the policy's judgement of the expression. Evidence, detector and scan fingerprint are
    carried over from the verdict being replaced, so the scan it rests on, ingested again,
    does not undo the override.

    Raises:
        ApiError: 404 no verdict, 412 stale ETag, 422 reason missing or too long, nothing
            to override, or an expression with ids outside the SPDX list.
    """
    reason = _required_reason(reason)
    if expression is _KEEP and verdict is None:
        raise ApiError(
            422,
            "override_empty",
            "give the expression, the verdict, or both",
            {"fields": ["expression", "verdict"]},
        )
    if verdict is not None and verdict not in VERDICTS:
        raise ApiError(
            422,
            "invalid_verdict",
            f"verdict must be one of {', '.join(VERDICTS)}",
            {"field": "verdict"},
        )
    normalized = _override_expression(expression)
    policy = server_policy()
    with db.atomic():
        repo = _locked_repository(key, create=False)
        current = current_verdict(repo) if repo is not None else None
        if repo is None or current is None:
            raise not_found("license verdict of", key.describe())
        if etag_of(repo) not in if_match:
            raise ApiError(
                412,
                "precondition_failed",
                "the verdict changed since you read it; reload and try again",
                {"current_etag": etag_of(repo)},
                headers={"ETag": f'"{etag_of(repo)}"'},
            )
        new_expression = current.expression if normalized is _KEEP else normalized
        new_verdict = verdict or policy.judge(new_expression)
        row = _add_verdict(
            repo,
            current,
            expression=new_expression,
            verdict=new_verdict,
            admitted=policy.admits(new_verdict),
            evidence=current.evidence,
            detector=current.detector,
            detector_version=current.detector_version,
            policy=policy,
            source=OVERRIDE,
            reason=reason,
            actor=actor,
            fingerprint=current.fingerprint,
        )
        details = {**_audit_details(row), "replaces": current.id}
        record_action(actor, "license.verdict_overridden", subject_of(repo), reason, details)
    return repo


def _required_reason(reason: str | None) -> str:
    return clean_reason(reason, required="an override needs a reason")


def _override_expression(expression):
    """A reviewer's expression must name SPDX ids, or LicenseRef-… on purpose."""
    if expression is _KEEP or expression is None:
        return expression
    normalized = strict_expression(expression, "expression")
    if normalized.unknown:
        raise ApiError(
            422,
            "unknown_license",
            "not on the SPDX license list: "
            + ", ".join(normalized.unknown)
            + "; write LicenseRef-<name> to record a license outside it",
            {
                "field": "expression",
                "unknown": list(normalized.unknown),
                "suggestion": normalized.expression,
            },
        )
    return normalized.expression


def _locked_repository(key: RepositoryKey, create: bool) -> LicensedRepository | None:
    """Return the repository's row, locked until the transaction ends (created if asked)."""

    def select():
        query = LicensedRepository.select().where(
            (LicensedRepository.host == key.host)
            & (LicensedRepository.owner_key == key.owner_key)
            & (LicensedRepository.name_key == key.name_key)
        )
        # SQLite transactions here begin IMMEDIATE: they already hold the write lock.
        return query.for_update().first() if is_postgres() else query.first()

    repo = select()
    if repo is None and create:
        now = utcnow()
        LicensedRepository.insert(
            host=key.host,
            owner=key.owner,
            owner_key=key.owner_key,
            name=key.name,
            name_key=key.name_key,
            created_at=now,
            updated_at=now,
        ).on_conflict_ignore().execute()  # a concurrent ingest may have made it meanwhile
        repo = select()
    return repo


def _add_verdict(
    repo: LicensedRepository, current: LicenseVerdict | None, policy: Policy, **values
) -> LicenseVerdict:
    now = utcnow()
    row = LicenseVerdict.create(
        repository=repo,
        policy_name=policy.name,
        policy_version=policy.version,
        created_at=now,
        **values,
    )
    previous = current.id if current is not None else None
    changed = (
        LicensedRepository.update(current_id=row.id, verdict=row.verdict, updated_at=now)
        .where(
            (LicensedRepository.id == repo.id)
            & (
                LicensedRepository.current_id.is_null()
                if previous is None
                else LicensedRepository.current_id == previous
            )
        )
        .execute()
    )
    if changed != 1:  # the row lock makes this unreachable; never write past a lost race
        raise ApiError(412, "precondition_failed", "the verdict changed while you acted on it")
    repo.current_id, repo.verdict, repo.updated_at = row.id, row.verdict, now
    return row


def public_expression(expression: str | None) -> str | None:
    """The expression for the audit log: ``LicenseRef-`` ids made from free text redacted.

    An unknown license's id is built from whatever text named it (a copyright line can
    hold a person's name), and the log cannot forget; the verdict row keeps it in full.
    """
    if expression is None:
        return None
    return _REF.sub(
        lambda m: m.group() if _PUBLIC_REFS.match(m.group()) else "LicenseRef-redacted",
        expression,
    )


def _audit_details(row: LicenseVerdict) -> dict:
    return {
        "verdict_id": row.id,
        "verdict": row.verdict,
        "admitted": bool(row.admitted),
        "expression": public_expression(row.expression),
        "policy": {"name": row.policy_name, "version": row.policy_version},
        "source": row.source,
        "detector": {"name": row.detector, "version": row.detector_version},
        "scan_sha256": row.fingerprint,
    }


# --- reading ------------------------------------------------------------------------------


def get_repository(key: RepositoryKey) -> LicensedRepository:
    """Return the repository with verdicts at this address, or 404."""
    repo = LicensedRepository.get_or_none(
        (LicensedRepository.host == key.host)
        & (LicensedRepository.owner_key == key.owner_key)
        & (LicensedRepository.name_key == key.name_key)
    )
    if repo is None or repo.current_id is None:
        raise not_found("license verdict of", key.describe())
    return repo


def current_verdict(repo: LicensedRepository) -> LicenseVerdict | None:
    if repo.current_id is None:
        return None
    return LicenseVerdict.get_or_none(LicenseVerdict.id == repo.current_id)


def scanned_expression(row: LicenseVerdict) -> str | None:
    """The expression the newest scan up to ``row`` found (``row``'s own, unless an override)."""
    if row.source == SCAN:
        return row.expression
    scan = (
        LicenseVerdict.select(LicenseVerdict.expression)
        .where(
            (LicenseVerdict.repository == row.repository_id)
            & (LicenseVerdict.source == SCAN)
            & (LicenseVerdict.id < row.id)
        )
        .order_by(LicenseVerdict.id.desc())
        .first()
    )
    return scan.expression if scan is not None else None


def history(repo: LicensedRepository) -> list[LicenseVerdict]:
    """Every verdict of a repository, the newest (current) first."""
    return list(repo.verdicts.order_by(LicenseVerdict.id.desc()))


def disputes(repo: LicensedRepository) -> list[dict]:
    """Owners' ``license`` requests about this repository, each with the verdict it disputes.

    The disputed verdict is the one that was current when the request was filed (None if
    there was none yet); requests in every state are listed, oldest first.
    """
    requests = (
        Request.select()
        .where(
            (Request.kind == "license")
            & (Request.host == repo.host)
            & (fn.LOWER(Request.owner) == repo.owner_key)
            & (fn.LOWER(Request.name) == repo.name_key)
        )
        .order_by(Request.id)
        .limit(MAX_DISPUTES)
    )
    verdicts = [
        (v.created_at, v.id)
        for v in repo.verdicts.select(LicenseVerdict.id, LicenseVerdict.created_at).order_by(
            LicenseVerdict.id
        )
    ]
    found = []
    for req in requests:
        disputed = None
        for created_at, verdict_id in verdicts:
            if created_at <= req.created_at:
                disputed = verdict_id
        found.append({"request": req, "verdict_id": disputed})
    return found


def verdict_for_request(req: Request) -> tuple[LicensedRepository, LicenseVerdict] | None:
    """The current verdict a ``license`` request disputes, if the repository has one."""
    if req.kind != "license" or req.name is None:
        return None
    repo = LicensedRepository.get_or_none(
        (LicensedRepository.host == req.host)
        & (LicensedRepository.owner_key == req.owner.lower())
        & (LicensedRepository.name_key == req.name.lower())
    )
    if repo is None:
        return None
    current = current_verdict(repo)
    return (repo, current) if current is not None else None


@dataclass
class VerdictFilter:
    verdict: list[str] | None = None
    source: str | None = None
    host: str | None = None
    admitted: bool | None = None
    page: int = 1
    per_page: int = 50
    after: str | None = None


LIST_SORT = "repository"  # host, owner, name: the one order of the list


def list_verdicts(
    flt: VerdictFilter,
) -> tuple[list[tuple[LicensedRepository, LicenseVerdict]], int, str | None]:
    """One page of repositories with their current verdict, how many match, the next cursor."""
    query = LicensedRepository.select(LicensedRepository, LicenseVerdict).join(
        LicenseVerdict, on=(LicenseVerdict.id == LicensedRepository.current_id), attr="current"
    )
    if flt.verdict:
        query = query.where(LicensedRepository.verdict.in_(flt.verdict))
    if flt.source:
        query = query.where(LicenseVerdict.source == flt.source)
    if flt.admitted is not None:
        query = query.where(LicenseVerdict.admitted == flt.admitted)
    if flt.host:
        query = query.where(LicensedRepository.host == flt.host.strip().lower())
    total = query.count()
    key = (LicensedRepository.host, LicensedRepository.owner_key, LicensedRepository.name_key)
    rows, following = cursors.keyset_page(
        query.order_by(*key),
        page=flt.page,
        per_page=flt.per_page,
        after=flt.after,
        sort=LIST_SORT,
        kind=(str, str, str),
        beyond=lambda value, _: Tuple(*key) > Tuple(*value),
        position=lambda repo: ([repo.host, repo.owner_key, repo.name_key], repo.id),
    )
    return [(repo, repo.current) for repo in rows], total, following


def repositories_for_export(key: RepositoryKey | None = None, release: str | None = None):
    """Yield ``(host, owner, name, current verdict or None)`` for one repository or a release.

    A release's repositories without a verdict are yielded with None.

    Raises:
        ApiError: 404 unknown repository or release.
    """
    from server.models import CatalogEntry, CatalogRelease

    if key is not None:
        repo = get_repository(key)
        yield repo.host, repo.owner, repo.name, current_verdict(repo)
        return
    found = CatalogRelease.get_or_none(CatalogRelease.name == release)
    if found is None:
        raise not_found("release", release)
    entries = (
        CatalogEntry.select(
            CatalogEntry.host,
            CatalogEntry.owner,
            CatalogEntry.name,
            LicensedRepository.current_id,
        )
        .join(
            LicensedRepository,
            join_type=JOIN.LEFT_OUTER,
            on=(
                (LicensedRepository.host == CatalogEntry.host)
                & (LicensedRepository.owner_key == CatalogEntry.owner_key)
                & (LicensedRepository.name_key == CatalogEntry.name_key)
            ),
        )
        .where(CatalogEntry.release == found.id)
        .order_by(CatalogEntry.host, CatalogEntry.owner_key, CatalogEntry.name_key)
        .tuples()
    )
    for host, owner, name, verdict_id in entries.iterator():
        verdict = None
        if verdict_id is not None:
            verdict = LicenseVerdict.get_or_none(LicenseVerdict.id == verdict_id)
        yield host, owner, name, verdict
