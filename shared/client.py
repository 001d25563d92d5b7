"""The Optout API client used by the desktop app, pipelines and tests.

It speaks only HTTP (through ``requests``) and turns the server's error envelope into
``ApiClientError`` with the same stable code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

DEFAULT_TIMEOUT = (5.0, 30.0)  # connect, read


class ApiClientError(Exception):
    """An error answer from the server, or no answer at all (``status`` 0)."""

    def __init__(self, status: int, code: str, message: str, details: dict | None = None):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}


@dataclass
class Versioned:
    """A resource together with the ETag to send back in ``If-Match``."""

    data: dict
    etag: str


class OptoutClient:
    """A thin, typed wrapper over the ``/api/v1`` endpoints."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.session = session or requests.Session()
        self.timeout = timeout

    def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict | None = None,
        headers: dict | None = None,
    ) -> requests.Response:
        sent = dict(headers or {})
        if self.token:
            sent["Authorization"] = f"Bearer {self.token}"
        try:
            resp = self.session.request(
                method,
                f"{self.base_url}/api/v1{path}",
                json=json,
                params=params,
                headers=sent,
                timeout=self.timeout,
            )
        except requests.RequestException as error:
            raise ApiClientError(
                0, "unreachable", f"cannot reach {self.base_url}: {error}"
            ) from None
        if resp.status_code >= 400:
            raise _error_from(resp)
        return resp

    # -- service ----------------------------------------------------------------------

    def health(self) -> dict:
        return self._call("GET", "/health").json()

    def me(self) -> dict:
        return self._call("GET", "/me").json()

    # -- requests ---------------------------------------------------------------------

    def submit(self, kind: str, host: str, owner: str, **scope: Any) -> dict:
        """Submit a request; the receipt holds ``status_token``, shown only this once."""
        body = {"kind": kind, "host": host, "owner": owner, **scope}
        return self._call("POST", "/requests", json=body).json()

    def list_requests(self, **filters: Any) -> dict:
        params = {k: v for k, v in filters.items() if v is not None}
        return self._call("GET", "/requests", params=params).json()

    def get_request(self, request_id: int) -> Versioned:
        resp = self._call("GET", f"/requests/{request_id}")
        return Versioned(resp.json(), _etag(resp))

    def transition(
        self, request_id: int, to: str, etag: str, reason: str | None = None
    ) -> Versioned:
        """Move a request to ``to``; ``etag`` is the one you read (412 if it is stale)."""
        body: dict[str, Any] = {"to": to}
        if reason is not None:
            body["reason"] = reason
        resp = self._call(
            "POST",
            f"/requests/{request_id}/transitions",
            json=body,
            headers={"If-Match": f'"{etag}"'},
        )
        return Versioned(resp.json(), _etag(resp))

    def request_counts(self, **filters: Any) -> dict:
        """Requests per state matching the other filters: ``{"counts": {...}, "total"}``."""
        params = {k: v for k, v in filters.items() if v is not None}
        return self._call("GET", "/requests/counts", params=params).json()

    def request_coverage(self, request_id: int) -> dict:
        """The catalog releases a request covers (staff), shaped like ``lookup``."""
        return self._call("GET", f"/requests/{request_id}/coverage").json()

    def intake(self, text: str, default_host: str | None = None) -> dict:
        """Propose requests from a pasted message (reviewers); nothing is submitted."""
        body: dict[str, Any] = {"text": text}
        if default_host is not None:
            body["default_host"] = default_host
        return self._call("POST", "/intake", json=body).json()

    # -- catalog ----------------------------------------------------------------------

    def lookup(self, host: str, owner: str, name: str | None = None) -> dict:
        """Say which releases include an account (or one repository) and what covers it."""
        params = {"host": host, "owner": owner}
        if name is not None:
            params["name"] = name
        return self._call("GET", "/lookup", params=params).json()

    # -- proof of authority ---------------------------------------------------------

    def create_challenge(self, request_id: int, account: str | None = None) -> dict:
        """Get a token to publish (``account``: a co-signing member of an organisation)."""
        body = {} if account is None else {"account": account}
        return self._call("POST", f"/requests/{request_id}/challenges", json=body).json()

    def check_challenges(self, request_id: int) -> dict:
        """Have the server fetch the challenge files; says whether the request is verified."""
        return self._call("POST", f"/requests/{request_id}/challenges/check", json={}).json()

    def evidence(self, request_id: int) -> dict:
        return self._call("GET", f"/requests/{request_id}/evidence").json()

    def start_email_proof(self, request_id: int, address: str) -> dict:
        body = {"address": address}
        return self._call("POST", f"/requests/{request_id}/email-proof", json=body).json()

    def confirm_email_proof(self, token: str) -> dict:
        return self._call("POST", "/email-proofs/confirm", json={"token": token}).json()

    # -- PII review -------------------------------------------------------------------

    def list_pii_findings(self, **filters: Any) -> dict:
        params = {k: v for k, v in filters.items() if v is not None}
        return self._call("GET", "/pii/findings", params=params).json()

    def get_pii_finding(self, finding_id: int) -> dict:
        """A finding with its masked context and decision history."""
        return self._call("GET", f"/pii/findings/{finding_id}").json()

    def reveal_pii_finding(self, finding_id: int, reason: str) -> dict:
        """The raw value and context; the server writes an audit entry with the reason."""
        body = {"reason": reason}
        return self._call("POST", f"/pii/findings/{finding_id}/reveal", json=body).json()

    def decide_pii(self, decisions: list[dict]) -> dict:
        """Decide values: each item has ``fingerprint``, ``rule``, ``decision``, ``reason``."""
        return self._call("POST", "/pii/decisions", json={"decisions": decisions}).json()

    def request_pii_findings(self, request_id: int) -> dict:
        return self._call("GET", f"/requests/{request_id}/pii-findings").json()

    # -- license verdicts -------------------------------------------------------------

    def list_licenses(self, **filters: Any) -> dict:
        params = {k: v for k, v in filters.items() if v is not None}
        return self._call("GET", "/licenses", params=params).json()

    def get_license(self, host: str, owner: str, name: str) -> Versioned:
        resp = self._call("GET", _license_path(host, owner, name))
        return Versioned(resp.json(), _etag(resp))

    def override_license(
        self, host: str, owner: str, name: str, etag: str, reason: str, **verdict: Any
    ) -> Versioned:
        """Override a verdict (``expression``, ``verdict`` optional); 412 if ``etag`` is stale."""
        resp = self._call(
            "POST",
            _license_path(host, owner, name) + "/override",
            json={"reason": reason, **verdict},
            headers={"If-Match": f'"{etag}"'},
        )
        return Versioned(resp.json(), _etag(resp))

    # -- exclusion lists --------------------------------------------------------------

    def exclusions_preview(self) -> dict:
        """The next list as a diff against the current one (publisher role)."""
        return self._call("GET", "/exclusions/preview").json()

    def publish_exclusions(self, confirm: str, expires_days: int = 30) -> dict:
        """Publish the next list; the server refuses unless ``confirm`` is ``"publish"``."""
        body = {"confirm": confirm, "expires_days": expires_days}
        return self._call("POST", "/exclusions", json=body).json()

    # -- audit log --------------------------------------------------------------------

    def audit_checkpoint(self) -> dict:
        return self._call("GET", "/audit/checkpoint").json()

    def audit_entries(self, start: int, end: int) -> list[dict]:
        params = {"start": start, "end": end}
        return self._call("GET", "/audit/entries", params=params).json()["entries"]

    def audit_inclusion_proof(self, index: int, size: int) -> dict:
        params = {"index": index, "size": size}
        return self._call("GET", "/audit/proof/inclusion", params=params).json()

    # -- users ------------------------------------------------------------------------

    def list_users(self) -> list[dict]:
        return self._call("GET", "/users").json()

    def add_user(self, name: str, role: str) -> dict:
        return self._call("POST", "/users", json={"name": name, "role": role}).json()

    def revoke_user(self, name: str, reason: str | None = None) -> dict:
        return self._call("POST", f"/users/{name}/revoke", json={"reason": reason}).json()


def _license_path(host: str, owner: str, name: str) -> str:
    quote = requests.utils.quote
    return f"/licenses/{quote(host, safe='')}/{quote(owner, safe='/')}/{quote(name, safe='')}"


def _etag(resp: requests.Response) -> str:
    return resp.headers.get("ETag", "").strip('"')


def _error_from(resp: requests.Response) -> ApiClientError:
    try:
        error = resp.json()["error"]
        return ApiClientError(
            resp.status_code, error["code"], error["message"], error.get("details")
        )
    except (ValueError, KeyError, TypeError):
        return ApiClientError(resp.status_code, "http_error", resp.text[:200] or resp.reason)
