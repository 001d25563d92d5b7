"""End-to-end fixtures: the real service, run by its own CLI, as a process group on loopback.

``served`` runs ``optout init`` and then ``optout serve`` (gunicorn, two workers) on a free
loopback port against the ``database_url`` of the test (each backend in turn). The server
runs in its own session, so ``kill()`` can SIGKILL the master and every worker at once, the
way a power cut or the OOM killer would; ``start()`` brings it back on the same port.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

# The console script installed next to the interpreter (``optout = server.cli:main``);
# there is no ``server.__main__``, so ``python -m`` is not an option.
OPTOUT = Path(sys.executable).parent / "optout"
HOST = "127.0.0.1"
START_TIMEOUT = 20.0  # seconds for gunicorn to answer /health
CLI_TIMEOUT = 60.0


def _ephemeral_low() -> int:
    try:
        text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text()
        return int(text.split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A free loopback port below the kernel's ephemeral range.

    Outgoing connections take their local ports from the ephemeral range, so a port picked
    below it is unlikely to be taken by someone else while the server is down (restart on
    the same port) or between picking it and gunicorn binding it.
    """
    high = max(_ephemeral_low(), 12000)
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(10000, high)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((HOST, port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _accepts(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        try:
            sock.connect((HOST, port))
        except OSError:
            return False
        return True


def _tail(path: Path, limit: int = 6000) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "<no output>"
    return text[-limit:] or "<empty>"


@dataclass
class Served:
    """A running ``optout serve`` and what a test needs to talk to it."""

    database_url: str
    instance: Path
    logs: Path
    port: int
    env: dict
    admin_token: str = ""
    workers: int = 2
    proc: subprocess.Popen | None = None
    starts: int = 0
    _files: list = field(default_factory=list)
    _killed: int | None = None  # pid of the last master killed and reaped

    def __repr__(self) -> str:
        return f"Served({self.base_url}, {self.database_url})"

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/v1"

    @property
    def auth(self) -> dict:
        return {"Authorization": f"Bearer {self.admin_token}"}

    def _run_cli(self, *args: str) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [str(OPTOUT), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(
                f"optout {' '.join(args)} exited {done.returncode}\n"
                f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
            )
        return done

    def init(self) -> str:
        """Run ``optout init``; return the first admin token it prints on stdout."""
        done = self._run_cli("init")
        tokens = [line for line in done.stdout.splitlines() if line.startswith("optr_")]
        if len(tokens) != 1:
            pytest.fail(f"optout init printed no admin token:\n{done.stdout}\n{done.stderr}")
        self.admin_token = tokens[0]
        return self.admin_token

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start ``optout serve`` (again, on the same port) and wait until /health answers."""
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("the server is already running")
        self._close_files()
        self.starts += 1
        out = (self.logs / f"serve-{self.starts}.out").open("wb")
        err = (self.logs / f"serve-{self.starts}.err").open("wb")
        self._files = [out, err]
        self.proc = subprocess.Popen(
            [
                str(OPTOUT),
                "serve",
                "--host",
                HOST,
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
            ],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,  # its own process group: kill() reaches every worker
        )
        deadline = time.monotonic() + timeout
        last: object = None
        with requests.Session() as session:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    self._fail_start(f"exited with {self.proc.returncode} before answering")
                try:
                    resp = session.get(f"{self.api_url}/health", timeout=1)
                    if resp.status_code == 200 and resp.json() == {"status": "ok"}:
                        return
                    last = f"{resp.status_code} {resp.text[:200]}"
                except requests.RequestException as error:
                    last = error
                time.sleep(0.05)
        self.kill()
        self._fail_start(f"did not answer /health within {timeout:.0f}s (last: {last})")

    def _fail_start(self, why: str) -> None:
        pytest.fail(
            f"optout serve on port {self.port} {why}\n"
            f"--- stderr ---\n{_tail(self.logs / f'serve-{self.starts}.err')}"
        )

    def kill(self) -> None:
        """SIGKILL the master and its workers (the whole process group), and wait."""
        proc = self.proc
        if proc is None or self._killed == proc.pid:
            return  # never signal a process group id twice: it may have been reused
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        self._killed = proc.pid
        # Workers are not our children; wait until nothing holds the listening socket.
        deadline = time.monotonic() + 10
        while _accepts(self.port) and time.monotonic() < deadline:
            time.sleep(0.02)
        self._close_files()

    def stderr(self) -> str:
        return "\n".join(
            f"--- serve-{n}.err ---\n{_tail(self.logs / f'serve-{n}.err')}"
            for n in range(1, self.starts + 1)
        )

    def _close_files(self) -> None:
        for fh in self._files:
            fh.close()
        self._files = []


def _server_env(instance: Path, database_url: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPTOUT_")}
    env.update(
        OPTOUT_INSTANCE=str(instance),
        OPTOUT_DATABASE_URL=database_url,
        # Submissions are rate limited per client address; these tests submit hundreds
        # from 127.0.0.1, so the limiter stays on but with a budget they cannot exhaust.
        OPTOUT_SUBMIT_RATE_LIMIT="1000000 per minute",
        OPTOUT_LOOKUP_RATE_LIMIT="1000000 per minute",
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture
def served(database_url, tmp_path):
    """``optout init`` + ``optout serve --workers 2`` on a free loopback port; yields Served."""
    logs = tmp_path / "logs"
    logs.mkdir()
    instance = tmp_path / "instance"
    server = Served(
        database_url=database_url,
        instance=instance,
        logs=logs,
        port=free_port(),
        env=_server_env(instance, database_url),
    )
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.kill()
