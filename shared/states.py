"""The request state machine, shared by the server, the desktop app and clients.

States follow PRODUCT.md: ``received → confirmed → verified → approved | rejected →
published``, plus ``needs_info``, ``withdrawn`` and ``reverted``. Each allowed transition
names the roles that may take it and whether a reason is required.
"""

from __future__ import annotations

from dataclasses import dataclass

RECEIVED = "received"
CONFIRMED = "confirmed"
VERIFIED = "verified"
APPROVED = "approved"
REJECTED = "rejected"
PUBLISHED = "published"
NEEDS_INFO = "needs_info"
WITHDRAWN = "withdrawn"
REVERTED = "reverted"

STATES: tuple[str, ...] = (
    RECEIVED,
    CONFIRMED,
    VERIFIED,
    APPROVED,
    REJECTED,
    PUBLISHED,
    NEEDS_INFO,
    WITHDRAWN,
    REVERTED,
)
TERMINAL_STATES = frozenset({REJECTED, WITHDRAWN, REVERTED})

KINDS: tuple[str, ...] = ("owner", "repository", "file", "license")

OWNER = "owner"
REVIEWER = "reviewer"
PUBLISHER = "publisher"
ADMIN = "admin"
SYSTEM = "system"
USER_ROLES: tuple[str, ...] = (REVIEWER, PUBLISHER, ADMIN)
STAFF = frozenset(USER_ROLES)


@dataclass(frozen=True)
class Transition:
    source: str
    target: str
    roles: frozenset[str]
    reason_required: bool
    action: str


def _t(
    source: str, target: str, roles: set[str] | frozenset[str], action: str, reason: bool = False
) -> Transition:
    return Transition(source, target, frozenset(roles), reason, action)


_OWNER_ONLY = {OWNER}
_WITHDRAWABLE = (RECEIVED, CONFIRMED, VERIFIED, NEEDS_INFO, APPROVED)

TRANSITIONS: dict[tuple[str, str], Transition] = {
    (t.source, t.target): t
    for t in [
        _t(RECEIVED, CONFIRMED, _OWNER_ONLY, "request.confirmed"),
        _t(CONFIRMED, VERIFIED, STAFF | {SYSTEM}, "request.verified", reason=True),
        _t(VERIFIED, APPROVED, STAFF, "request.approved"),
        _t(APPROVED, VERIFIED, STAFF, "request.reopened", reason=True),
        _t(APPROVED, PUBLISHED, {SYSTEM}, "request.published"),
        _t(PUBLISHED, REVERTED, STAFF, "request.reverted", reason=True),
        *[
            _t(s, REJECTED, STAFF, "request.rejected", reason=True)
            for s in (RECEIVED, CONFIRMED, VERIFIED, NEEDS_INFO)
        ],
        *[
            _t(s, NEEDS_INFO, STAFF, "request.needs_info", reason=True)
            for s in (CONFIRMED, VERIFIED)
        ],
        _t(NEEDS_INFO, CONFIRMED, STAFF | _OWNER_ONLY, "request.info_provided"),
        *[_t(s, WITHDRAWN, _OWNER_ONLY, "request.withdrawn") for s in _WITHDRAWABLE],
    ]
}


def transition_for(source: str, target: str) -> Transition | None:
    """Return the transition from ``source`` to ``target``, or None if there is none."""
    return TRANSITIONS.get((source, target))


def targets_from(source: str, role: str | None = None) -> list[str]:
    """List the states reachable from ``source``, optionally only those ``role`` may take."""
    return [
        t.target
        for t in TRANSITIONS.values()
        if t.source == source and (role is None or role in t.roles)
    ]
