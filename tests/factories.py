"""Test factories with named presets, built through the real service functions."""

from __future__ import annotations

import itertools

from shared import states

_seq = itertools.count(1)

SCOPES = {
    "owner": {"kind": "owner", "host": "github.com", "owner": "octo-org"},
    "repository": {"kind": "repository", "host": "github.com", "owner": "octocat", "name": "hello"},
    "file": {
        "kind": "file",
        "host": "gitlab.com",
        "owner": "group/sub",
        "name": "proj",
        "path": "src/secrets.py",
        "line": 12,
    },
    "license": {"kind": "license", "host": "codeberg.org", "owner": "forgejo", "name": "forgejo"},
}

# The path from received to each state, as (target, role) steps.
PATHS = {
    states.RECEIVED: [],
    states.CONFIRMED: [(states.CONFIRMED, states.OWNER)],
    states.VERIFIED: [(states.CONFIRMED, states.OWNER), (states.VERIFIED, states.REVIEWER)],
    states.APPROVED: [
        (states.CONFIRMED, states.OWNER),
        (states.VERIFIED, states.REVIEWER),
        (states.APPROVED, states.REVIEWER),
    ],
    states.NEEDS_INFO: [(states.CONFIRMED, states.OWNER), (states.NEEDS_INFO, states.REVIEWER)],
    states.PUBLISHED: [
        (states.CONFIRMED, states.OWNER),
        (states.VERIFIED, states.REVIEWER),
        (states.APPROVED, states.REVIEWER),
        (states.PUBLISHED, states.SYSTEM),
    ],
}


class Factory:
    """Make users and requests in a given state, as the workflows would."""

    def user(self, role: str = states.REVIEWER, name: str | None = None):
        from server.workflows.users import add_user

        user, token = add_user(name or f"{role}{next(_seq)}", role, actor="test")
        return user, token

    def request(self, preset: str = "repository", state: str = states.RECEIVED, **overrides):
        """Return ``(request, status_token)`` for a request walked to ``state``."""
        from server.auth import Principal
        from server.workflows import requests as workflow

        req, token = workflow.submit_request({**SCOPES[preset], **overrides})
        for target, role in PATHS[state]:
            if role == states.SYSTEM:
                workflow.system_transition(req, target, "test")
                continue
            principal = (
                Principal(role, "owner", request_id=req.id)
                if role == states.OWNER
                else Principal(role, "tester", user_id=0)
            )
            req = workflow.transition_request(
                req.id, target, "because", principal, {workflow.etag_of(req)}
            )
        return req, token
