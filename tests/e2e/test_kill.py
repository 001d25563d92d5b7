"""SIGKILL the whole server (master and workers) while clients submit requests.

Submitting a request writes three rows in one transaction: the request, its first history
event and its audit record. Whatever moment the kill lands on, the database must afterwards
hold each submission entirely or not at all, and every submission that was answered 201
must be there, exactly as submitted. Runs on each backend of ``database_url``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import psycopg2
import pytest
import requests

from tests.e2e.conftest import OPTOUT

pytestmark = pytest.mark.slow

CLIENTS = 6
KILLS = 5  # kill-and-restart cycles in one run
MAX_ATTEMPTS_PER_CLIENT = 1000  # bound by count ...
PHASE_TIMEOUT = 8.0  # ... and by time (seconds per phase)
ACCEPTED_PER_PHASE = 80  # 201s wanted before each kill, and after the last restart
DOWNTIME = 0.3  # seconds the server stays dead while clients keep trying
TIMEOUT = (2.0, 10.0)  # connect, read


@dataclass
class Attempt:
    body: dict
    status: int | None = None  # None: no answer (refused, reset, timed out)
    error: str | None = None
    receipt: dict | None = None


def scope_body(tag: str, client: int, n: int) -> dict:
    """A valid, already-normalised submission whose owner names it uniquely."""
    owner = f"e2e-{tag}-c{client}-n{n}"
    kind = ("repository", "owner", "file")[n % 3]
    if kind == "owner":
        return {"kind": "owner", "host": "gitlab.com", "owner": owner}
    if kind == "repository":
        return {"kind": "repository", "host": "github.com", "owner": owner, "name": f"repo-{n}"}
    return {
        "kind": "file",
        "host": "codeberg.org",
        "owner": owner,
        "name": "proj",
        "path": f"src/m{n}/data.py",
        "line": n + 1,
        "content_sha256": hashlib.sha256(owner.encode()).hexdigest(),
    }


EXPECTED_FIELDS = ("kind", "host", "owner", "name", "path", "line", "content_sha256")


def expected_fields(body: dict) -> dict:
    return {field: body.get(field) for field in EXPECTED_FIELDS}


class Clients:
    """``CLIENTS`` threads submitting until stopped or out of attempts."""

    def __init__(self, url: str, tag: str):
        self.url = url
        self.tag = tag
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.attempts: list[Attempt] = []
        self.accepted = 0
        self.in_flight = 0
        self.threads = [
            threading.Thread(target=self._run, args=(i,), name=f"client-{i}", daemon=True)
            for i in range(CLIENTS)
        ]

    def __enter__(self) -> Clients:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(TIMEOUT[0] + TIMEOUT[1] + 5)
        assert not any(t.is_alive() for t in self.threads), "a client thread did not stop"

    def _run(self, client: int) -> None:
        with requests.Session() as session:
            for n in range(MAX_ATTEMPTS_PER_CLIENT):
                if self.stop.is_set():
                    return
                attempt = Attempt(scope_body(self.tag, client, n))
                with self.lock:
                    self.attempts.append(attempt)
                    self.in_flight += 1
                try:
                    resp = session.post(self.url, json=attempt.body, timeout=TIMEOUT)
                except requests.RequestException as error:
                    attempt.error = f"{type(error).__name__}: {error}"
                else:
                    attempt.status = resp.status_code
                    if resp.status_code == 201:
                        attempt.receipt = resp.json()
                    else:
                        attempt.error = resp.text[:300]
                finally:
                    with self.lock:
                        self.in_flight -= 1
                        if attempt.status == 201:
                            self.accepted += 1
                if attempt.status is None:
                    session.close()  # drop the dead keep-alive connection
                    time.sleep(0.05)  # the server is down: do not spin

    def wait_for(self, accepted: int, timeout: float = PHASE_TIMEOUT) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.accepted >= accepted:
                return True
            if not any(t.is_alive() for t in self.threads):
                return False
            time.sleep(0.01)
        return False

    def wait_in_flight(self, count: int, timeout: float = 2.0) -> int:
        deadline = time.monotonic() + timeout
        while self.in_flight < count and time.monotonic() < deadline:
            time.sleep(0.001)
        return self.in_flight


def list_all(session: requests.Session, api_url: str) -> tuple[list[dict], int]:
    items: list[dict] = []
    total = None
    for page in range(1, 1000):
        resp = session.get(
            f"{api_url}/requests",
            params={"per_page": 200, "page": page, "sort": "id"},
            timeout=TIMEOUT,
        )
        assert resp.status_code == 200, resp.text
        data = resp.json()
        total = data["total"]
        items.extend(data["items"])
        if not data["items"] or len(items) >= total:
            break
    return items, total


def db_counts(database_url: str) -> dict[str, object]:
    """Count rows and orphans straight from the database, not through the service."""
    queries = {
        "requests": "SELECT COUNT(*) FROM request",
        "events": "SELECT COUNT(*) FROM request_event",
        "received_events": "SELECT COUNT(*) FROM request_event"
        " WHERE to_state = 'received' AND from_state IS NULL",
        "requests_without_one_event": "SELECT COUNT(*) FROM request r WHERE"
        " (SELECT COUNT(*) FROM request_event e WHERE e.request_id = r.id) <> 1",
    }
    log_query = 'SELECT "index", entry FROM log_entry ORDER BY "index"'
    ids_query = "SELECT id FROM request"
    if database_url.startswith("sqlite:///"):
        conn = sqlite3.connect(database_url.removeprefix("sqlite:///"))
        with contextlib.closing(conn):
            counts = {k: conn.execute(q).fetchone()[0] for k, q in queries.items()}
            counts["integrity"] = conn.execute("PRAGMA integrity_check").fetchone()[0]
            log = conn.execute(log_query).fetchall()
            ids = {r[0] for r in conn.execute(ids_query).fetchall()}
    else:
        conn = psycopg2.connect(database_url)  # libpq reads options=-csearch_path=... itself
        try:
            with conn.cursor() as cur:
                counts = {}
                for key, query in queries.items():
                    cur.execute(query)
                    counts[key] = cur.fetchone()[0]
                cur.execute(log_query)
                log = cur.fetchall()
                cur.execute(ids_query)
                ids = {r[0] for r in cur.fetchall()}
            conn.rollback()
        finally:
            conn.close()
        counts["integrity"] = "ok"
    counts.update(_log_counts(log, ids))
    return counts


def _log_counts(log: list, request_ids: set[int]) -> dict[str, int]:
    """What the audit log says about requests, and whether its indexes run 0..n-1."""
    entries = [json.loads(bytes(entry)) for _index, entry in log]
    received = [e for e in entries if e["action"] == "request.received"]
    received_ids = {int(e["subject"].split(":")[1]) for e in received}
    return {
        "log_gaps": sum(1 for i, (index, _) in enumerate(log) if index != i),
        "received_audits": len(received),
        "requests_without_audit": len(request_ids - received_ids),
        "audits_without_request": len(received_ids - request_ids),
        "request_audits": sum(1 for e in entries if e["subject"].startswith("request:")),
    }


def test_sigkill_mid_stream_loses_nothing_acknowledged(served):
    tag = uuid.uuid4().hex[:8]
    killed_in_flight = []
    with Clients(f"{served.api_url}/requests", tag) as clients:
        for cycle in range(KILLS + 1):
            wanted = (cycle + 1) * ACCEPTED_PER_PHASE
            assert clients.wait_for(wanted), (
                f"cycle {cycle}: {clients.accepted} of {wanted} submissions accepted"
                f"\n{served.stderr()}"
            )
            if cycle == KILLS:
                break
            killed_in_flight.append(clients.wait_in_flight(2))
            served.kill()
            time.sleep(DOWNTIME)
            served.start()
    attempts = clients.attempts
    ok = [a for a in attempts if a.status == 201]
    unanswered = [a for a in attempts if a.status is None]
    answered_otherwise = [a for a in attempts if a.status not in (None, 201)]

    # The kill really landed mid-stream, and the service came back.
    print(
        f"attempts={len(attempts)} accepted={len(ok)} unanswered={len(unanswered)}"
        f" in_flight_at_kills={killed_in_flight}"
    )
    assert all(killed_in_flight), f"no submission in flight at a kill: {killed_in_flight}"
    assert unanswered, "no submission went unanswered: the kills interrupted nothing"
    assert len(ok) >= (KILLS + 1) * ACCEPTED_PER_PHASE
    assert not answered_otherwise, [(a.status, a.error) for a in answered_otherwise[:5]]

    with requests.Session() as session:
        session.headers.update(served.auth)
        listed, total = list_all(session, served.api_url)
        assert total == len(listed)
        ids = [item["id"] for item in listed]
        assert len(set(ids)) == len(ids), "a request is listed twice"
        by_owner = {item["owner"]: item for item in listed}
        assert len(by_owner) == len(listed), "one submission stored twice"

        # Nothing appears that nobody submitted, and no more rows than attempts.
        submitted = {a.body["owner"]: a for a in attempts}
        assert len(listed) <= len(attempts)
        strangers = set(by_owner) - set(submitted)
        assert not strangers, f"stored requests nobody submitted: {sorted(strangers)[:5]}"

        # Every acknowledged submission is there, exactly as submitted, in state received.
        for attempt in ok:
            owner = attempt.body["owner"]
            assert owner in by_owner, f"acknowledged submission lost: {attempt.body}"
            item = by_owner[owner]
            assert item["id"] == attempt.receipt["request"]["id"]
            assert {f: item[f] for f in EXPECTED_FIELDS} == expected_fields(attempt.body)
            assert item["state"] == "received"
            assert item["version"] == 1
        # What is stored beyond the 201s can only come from submissions that got no answer.
        extra = set(by_owner) - {a.body["owner"] for a in ok}
        unanswered_owners = {a.body["owner"] for a in unanswered}
        assert extra <= unanswered_owners
        print(f"stored={len(listed)} stored_without_answer={len(extra)}")

        # No request is half-written: each has exactly its one "received" event.
        def detail(request_id: int) -> dict:
            resp = session.get(f"{served.api_url}/requests/{request_id}", timeout=TIMEOUT)
            assert resp.status_code == 200, resp.text
            return resp.json()

        with ThreadPoolExecutor(CLIENTS) as pool:
            details = list(pool.map(detail, ids))
        for data in details:
            assert data["state"] == "received"
            assert data["history"] == [
                {
                    "from_state": None,
                    "to_state": "received",
                    "actor": f"owner:request:{data['id']}",
                    "actor_role": "owner",
                    "reason": None,
                    "at": data["history"][0]["at"],
                }
            ], data

    # Status tokens handed out before and after the kill still work.
    for attempt in (ok[0], ok[-1]):
        resp = requests.get(
            f"{served.api_url}/requests/{attempt.receipt['request']['id']}",
            headers={"Authorization": f"Bearer {attempt.receipt['status_token']}"},
            timeout=TIMEOUT,
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["owner"] == attempt.body["owner"]

    # The database agrees, row for row: one event and one audit record per request. Entries
    # the last worker queued and had no time to sequence are durable in the queue; the
    # operator's command moves them into the log.
    served.kill()
    sequence = subprocess.run([str(OPTOUT), "audit", "sequence"], env=served.env,
                              capture_output=True, text=True, timeout=120)
    assert sequence.returncode == 0, sequence.stdout + sequence.stderr
    counts = db_counts(served.database_url)
    n = len(listed)
    assert counts == {
        "requests": n,
        "events": n,
        "received_events": n,
        "requests_without_one_event": 0,
        "received_audits": n,
        "requests_without_audit": 0,
        "audits_without_request": 0,
        "request_audits": n,  # nothing else happened to any request
        "log_gaps": 0,
        "integrity": "ok",
    }, counts
    # And the log, recomputed from the database, still verifies.
    verify = subprocess.run([str(OPTOUT), "audit", "verify"], env=served.env,
                            capture_output=True, text=True, timeout=120)
    assert verify.returncode == 0, verify.stdout + verify.stderr
