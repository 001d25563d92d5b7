"""Demo data for the desktop tests, the screenshots and the benchmark, made through the real
services inside an app context: requests in every state, a catalog, PII findings with their
context, license verdicts, and a published exclusion list."""

from __future__ import annotations

import io
import json

from shared import states
from shared.pii import Scanner
from tests.factories import Factory

PII_KEY = b"demo fingerprint key"
PII_TEXT = (
    "import smtplib\n\n"
    "# Maintainer: write to the address below\n"
    'SUPPORT = "mariana.kowalczyk@posteo.de"\n'
    'MIRROR = "151.101.1.69"\n'
    'BACKUP = "rafael.oyelaran@fastmail.com"\n\n'
    "def notify(text):\n"
    "    smtplib.SMTP(MIRROR).sendmail(SUPPORT, [BACKUP], text)\n"
)
REQUESTS = [  # (preset, state, overrides)
    ("repository", states.VERIFIED, {"owner": "octocat", "name": "hello"}),
    ("repository", states.VERIFIED, {"owner": "mkowalczyk", "name": "dotfiles"}),
    ("owner", states.CONFIRMED, {"owner": "acme-corp"}),
    ("file", states.CONFIRMED, {"host": "github.com", "owner": "octocat", "name": "mailer",
                                "path": "src/mailer.py", "line": 4}),
    ("repository", states.NEEDS_INFO, {"owner": "lin-wei", "name": "thesis-code"}),
    ("license", states.CONFIRMED, {"owner": "octocat", "name": "hello"}),
    ("repository", states.APPROVED, {"owner": "old-account", "name": "archive"}),
    ("owner", states.APPROVED, {"host": "codeberg.org", "owner": "quiet-dev"}),
    ("repository", states.RECEIVED, {"owner": "newcomer", "name": "first-steps"}),
    ("repository", states.PUBLISHED, {"owner": "early-bird", "name": "gone"}),
]
CATALOG = [
    {"host": "github.com", "owner": "octocat", "name": "hello", "release": "v2.0", "files": 41},
    {"host": "github.com", "owner": "octocat", "name": "mailer", "release": "v2.0", "files": 7},
    {"host": "github.com", "owner": "octocat", "name": "hello", "release": "v1.1", "files": 38},
    {"host": "github.com", "owner": "acme-corp", "name": "api", "release": "v2.0", "files": 512},
    {"host": "github.com", "owner": "acme-corp", "name": "web", "release": "v2.0", "files": 260},
    {"host": "github.com", "owner": "mkowalczyk", "name": "dotfiles", "release": "v2.0",
     "files": 19},
]


def pii_findings(text: str = PII_TEXT, host: str = "github.com", owner: str = "octocat",
                 name: str = "mailer", path: str = "src/mailer.py") -> list[dict]:
    """Scan ``text`` as a pipeline would, with three lines of context per finding."""
    items = []
    lines = text.splitlines(keepends=True)
    for finding in Scanner(key=PII_KEY, sensitivity=3).scan_text(text, path):
        first = max(finding.line - 3, 0)
        offset = sum(len(line) for line in lines[:first])
        snippet = "".join(lines[first : finding.line + 2])
        items.append({**finding.to_json(), "host": host, "owner": owner, "name": name,
                      "context": {"text": snippet, "value_start": finding.start - offset}})
    return items


def license_scan(declared: str | None, files: list[tuple[str, str, float]]) -> dict:
    return {
        "declared": declared,
        "detector": {"name": "askalono", "version": "0.2.0"},
        "evidence": [{"path": p, "expression": e, "score": s, "detector": "askalono",
                      "kind": "license_file" if p.startswith(("LICENSE", "COPYING"))
                      else "spdx_header"}
                     for p, e, s in files],
        "scopes": [],
        "files_scanned": 40 + len(files),
        "truncated": False,
        "skipped": {},
    }


LICENSES = [
    ("octocat", "hello", "MIT", [("LICENSE", "MIT", 0.99), ("src/util.c", "MIT", 1.0)]),
    ("acme-corp", "api", "GPL-3.0-only", [("COPYING", "GPL-3.0-only", 0.97),
                                          ("vendor/lib.js", "MIT", 1.0)]),
    ("mkowalczyk", "dotfiles", None, []),
    ("lin-wei", "thesis-code", "Apache-2.0 OR MIT", [("LICENSE-APACHE", "Apache-2.0", 0.98),
                                                     ("LICENSE-MIT", "MIT", 0.99)]),
]


def fill_demo(factory: Factory | None = None) -> dict:
    """Make the demo data in the current app's database; return the users' tokens.

    Findings and scans go in through the API, as pipelines send them (schemas included).
    """
    from flask import current_app

    from server.workflows import catalog

    factory = factory or Factory()
    _, reviewer = factory.user(states.REVIEWER, name="ada")
    _, publisher = factory.user(states.PUBLISHER, name="grace")
    made = {}
    for preset, state, overrides in REQUESTS:
        req, _ = factory.request(preset, state, **overrides)
        made.setdefault((preset, state), req.id)
    catalog.load_catalog(io.BytesIO("\n".join(json.dumps(x) for x in CATALOG).encode()))
    http = current_app.test_client()
    headers = {"Authorization": f"Bearer {publisher}"}
    scans = [{"host": "github.com", "owner": o, "name": n, "scan": license_scan(d, f)}
             for o, n, d, f in LICENSES]
    for url, body in (("/api/v1/pii/findings", {"findings": pii_findings()}),
                      ("/api/v1/licenses/scans", {"scans": scans})):
        resp = http.post(url, json=body, headers=headers)
        assert resp.status_code == 200, resp.get_json()
    return {"reviewer": reviewer, "publisher": publisher, "requests": made}


def bulk_requests(count: int, batch: int = 2000) -> None:
    """Insert ``count`` requests straight into the table (for paging tests and the bench).

    They bypass the workflow (no history, no audit entries): only the queue reads them.
    """
    import datetime as dt
    import hashlib

    from server.db import db
    from server.models import Request

    kinds = ("repository", "owner", "file", "license")
    cycle = (states.RECEIVED, states.CONFIRMED, states.VERIFIED, states.NEEDS_INFO,
             states.APPROVED, states.REJECTED)
    start = Request.select().count()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    for first in range(0, count, batch):
        rows = []
        for n in range(start + first, start + min(first + batch, count)):
            kind = kinds[n % 4]
            rows.append({
                "kind": kind, "state": cycle[n % len(cycle)],
                "host": ("github.com", "gitlab.com", "codeberg.org")[n % 3],
                "owner": f"owner{n % 997}", "name": None if kind == "owner" else f"repo{n}",
                "path": "src/config.py" if kind == "file" else None,
                "status_token_hash": hashlib.sha256(f"bulk{n}".encode()).hexdigest(),
                "created_at": now - dt.timedelta(minutes=n), "updated_at": now,
            })
        with db.atomic():
            Request.insert_many(rows).execute()
