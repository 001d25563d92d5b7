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

    # -- users ------------------------------------------------------------------------

    def list_users(self) -> list[dict]:
        return self._call("GET", "/users").json()

    def add_user(self, name: str, role: str) -> dict:
        return self._call("POST", "/users", json={"name": name, "role": role}).json()

    def revoke_user(self, name: str, reason: str | None = None) -> dict:
        return self._call("POST", f"/users/{name}/revoke", json={"reason": reason}).json()


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
