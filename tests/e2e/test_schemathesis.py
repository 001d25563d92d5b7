"""Property-based tests of the served API against its own OpenAPI spec (schemathesis CLI).

The run is deterministic (fixed seed, one worker, no example database) and offline (the
spec comes from the server under test on loopback). It checks that nothing answers 5xx and
that every answer conforms to the spec: documented status, content type, headers and body.
An admin token is sent so that staff endpoints are exercised past authentication.

``OPTOUT_E2E_SCHEMATHESIS_SEED`` and ``OPTOUT_E2E_SCHEMATHESIS_EXAMPLES`` override the seed
and the number of examples per operation, for a longer exploratory run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.slow

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)
SEED = int(os.environ.get("OPTOUT_E2E_SCHEMATHESIS_SEED", "1"))
EXAMPLES = int(os.environ.get("OPTOUT_E2E_SCHEMATHESIS_EXAMPLES", "25"))
RUN_TIMEOUT = 300


def schemathesis(served, cwd: Path, *selection: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEMATHESIS_")}
    env.update(NO_COLOR="1", COLUMNS="120")
    return subprocess.run(
        [
            str(SCHEMATHESIS),
            "run",
            f"{served.api_url}/openapi.json",
            "--checks",
            CHECKS,
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--max-examples",
            str(EXAMPLES),
            "--seed",
            str(SEED),
            "--workers",
            "1",  # one worker: the same seed gives the same run
            "--generation-database",
            "none",  # nothing remembered between runs
            "--request-timeout",
            "10",
            "--header",
            f"Authorization: Bearer {served.admin_token}",
            "--no-color",
            *selection,
        ],
        cwd=cwd,  # no schemathesis.toml is picked up, nothing is written in the repo
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )


def assert_passed(served, done: subprocess.CompletedProcess, what: str) -> None:
    if done.returncode != 0:
        pytest.fail(
            f"schemathesis ({what}) exited {done.returncode}\n"
            f"--- stdout ---\n{done.stdout}\n--- stderr ---\n{done.stderr[-4000:]}\n"
            f"--- server ---\n{served.stderr()}"
        )


def test_api_conforms_to_its_spec(served, tmp_path):
    # Every operation but revoke first: the stateful phase links GET /users to
    # POST /users/{name}/revoke and so revokes the admin token the run itself uses.
    everything_else = schemathesis(served, tmp_path, "--exclude-path-regex", "/revoke$")
    assert_passed(served, everything_else, "all operations but revoke")
    # Then the account operations, revoke included, last.
    accounts = schemathesis(served, tmp_path, "--include-path-regex", "^/api/v1/users")
    assert_passed(served, accounts, "account operations")

    # The server survived it all and logged no unhandled error.
    assert served.proc.poll() is None, served.stderr()
    health = requests.get(f"{served.api_url}/health", timeout=5)
    assert health.status_code == 200
    log = served.stderr()
    assert "unhandled error" not in log and "Traceback" not in log, log
