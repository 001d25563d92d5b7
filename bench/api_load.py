#!/usr/bin/env python3
"""Load benchmark of the Optout API: submissions against the trivial health endpoint.

For each backend (SQLite file, PostgreSQL schema) this script builds a fresh instance in a
temporary directory, runs ``optout init``, starts ``optout serve`` (gunicorn, gthread) as a
subprocess in its own process group, and drives it over loopback with C concurrent
keep-alive connections in a closed loop (each connection sends its next request when the
previous response has arrived):

  (a) GET  /api/v1/health      the named baseline: no query of its own, minimal Flask work
                               (the app still checks out a database connection per request)
  (b) POST /api/v1/requests    a public submission: rate limit, validation, the request, its
                               history and its audit-log entry in one transaction

It reports requests/s, p50/p99 latency, errors, the submissions/health throughput ratio,
the CPU used by the load generator and by the server, and whether the targets hold:
submission throughput >= 30% of health throughput, and p99 < 100 ms at 32 clients.

The load generator is deliberately cheap so that it does not distort the ratio on a small
machine: one process (``--client-procs`` splits the connections over more) runs a
single-threaded epoll loop over raw sockets, with hand-built request bytes and a minimal
response parser (no http.client, no threads); it reports its own CPU. The
``--client-mode threads`` alternative (one thread and one http.client connection per
client) exists to measure how much a naive client costs.

Errors are counted over the whole phase, warm-up included: any status other than the
expected one (200, 201), a connection closed by the server, a malformed response.

The script always exits 0 when the benchmark ran (targets missed are reported, not failed);
it exits 2 on a usage error or when an instance could not be set up.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import multiprocessing as mp
import os
import secrets
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from dataclasses import dataclass, field
from pathlib import Path

HEALTH = "/api/v1/health"
SUBMIT = "/api/v1/requests"
TARGET_RATIO = 0.30
TARGET_P99_MS = 100.0
NOISE_PCT = 15.0  # CPU of unrelated processes (% of a core) above which a phase is suspect
CLK_TCK = os.sysconf("SC_CLK_TCK")

EXAMPLE = """\
example:
  .venv/bin/python bench/api_load.py --backends sqlite,postgresql --clients 32 --duration 10

  # PostgreSQL only, 4 workers x 8 threads, stop each phase after 20000 requests:
  .venv/bin/python bench/api_load.py --backends postgresql --workers 4 --threads 8 \\
      --requests 20000
"""


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- CPU accounting -------------------------------------------------------------------


def _proc_stat(pid: int) -> tuple[int, float] | None:
    """Return (process group, user+system CPU seconds) of a process, or None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            raw = fh.read()
    except OSError:
        return None
    fields_ = raw[raw.rindex(")") + 2 :].split()
    # after "pid (comm) ": state ppid pgrp session ... utime(14th overall) stime(15th)
    return int(fields_[2]), (int(fields_[11]) + int(fields_[12])) / CLK_TCK


def group_cpu(pgid: int) -> float:
    """CPU seconds used so far by the live processes of a process group."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _proc_stat(int(entry))
            if stat and stat[0] == pgid:
                total += stat[1]
    return total


def group_pids(pgid: int) -> list[int]:
    """Live processes of a process group."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _proc_stat(int(entry))
            if stat and stat[0] == pgid:
                pids.append(int(entry))
    return pids


def connections_per_process(pids: list[int], port: int) -> dict[int, int]:
    """How many established TCP connections on ``port`` each process holds.

    gunicorn does not balance keep-alive connections between its workers: whichever worker
    wins accept() keeps the connection for good, so a lopsided split caps throughput at
    what one worker (one GIL) can do.
    """
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as fh:
            next(fh)
            for line in fh:
                parts = line.split()
                if parts[3] == "01" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(parts[9])
    counts = {}
    for pid in pids:
        n = 0
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if target.startswith("socket:[") and target[8:-1] in inodes:
                        n += 1
        counts[pid] = n
    return counts


def pids_cpu(pids: list[int]) -> float:
    """CPU seconds used so far by the given processes (those still alive)."""
    return sum(stat[1] for pid in pids if (stat := _proc_stat(pid)))


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores."""
    with open("/proc/stat") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])
    return (total - idle) / CLK_TCK, total / CLK_TCK


def background_load(seconds: float = 1.0) -> float:
    """Busy share of all cores over a short sample, before any load of ours."""
    busy0, total0 = machine_cpu()
    time.sleep(seconds)
    busy1, total1 = machine_cpu()
    return (busy1 - busy0) / (total1 - total0) if total1 > total0 else 0.0


# --- load generator -------------------------------------------------------------------


@dataclass
class Phase:
    """What one client process must do and when."""

    endpoint: str  # "health" or "submit"
    host: str
    port: int
    connections: int
    t_start: float  # time.monotonic() at which to begin sending (shared across processes)
    t_measure: float  # completions from here on count
    t_stop: float  # send nothing after this
    max_requests: int  # measured completions after which this process stops (0 = none)
    ramp_step: float  # seconds between opening one connection and the next
    tag: str  # makes submitted owners unique across processes and runs


@dataclass
class PhaseResult:
    latencies: array = field(default_factory=lambda: array("d"))  # seconds, measured only
    first: float = 0.0
    last: float = 0.0
    errors: dict = field(default_factory=dict)
    reconnects: int = 0
    cpu: float = 0.0  # CPU seconds of this client process during the measured window
    wall: float = 0.0

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


def _request_bytes(phase: Phase, n: int) -> bytes:
    host = f"{phase.host}:{phase.port}"
    if phase.endpoint == "health":
        return f"GET {HEALTH} HTTP/1.1\r\nHost: {host}\r\nAccept: */*\r\n\r\n".encode()
    body = json.dumps(
        {"kind": "repository", "host": "github.com", "owner": f"o{phase.tag}-{n}", "name": "r"}
    ).encode()
    head = (
        f"POST {SUBMIT} HTTP/1.1\r\nHost: {host}\r\nAccept: */*\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _expected_status(phase: Phase) -> int:
    return 200 if phase.endpoint == "health" else 201


class _Conn:
    __slots__ = ("sock", "out", "buf", "started")

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.out = b""
        self.buf = bytearray()
        self.started = 0.0


def _parse_response(buf: bytearray) -> tuple[int, int, bool] | None:
    """Return (status, total length, close) once a whole response is buffered."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buf[:end]).decode("latin-1").split("\r\n")
    status = int(head[0].split(" ", 2)[1])
    length = None
    close = False
    for line in head[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and value.strip().lower() == "close":
            close = True
    if length is None:  # every response of this API has a length; anything else is odd
        raise ValueError("response without Content-Length")
    total = end + 4 + length
    return (status, total, close) if len(buf) >= total else None


def _run_epoll(phase: Phase, result: PhaseResult) -> None:
    """Drive phase.connections keep-alive connections from one thread with epoll."""
    sel = selectors.DefaultSelector()
    expected = _expected_status(phase)
    counter = 0
    measured = 0
    stopping = False
    conns: list[_Conn] = []

    def connect() -> _Conn:
        sock = socket.create_connection((phase.host, phase.port), timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        return _Conn(sock)

    def send_next(conn: _Conn) -> None:
        nonlocal counter
        counter += 1
        conn.out = _request_bytes(phase, counter)
        conn.buf.clear()
        conn.started = time.monotonic()
        try:
            sent = conn.sock.send(conn.out)  # small requests go in one send on loopback
        except OSError:
            sent = 0  # the write event will raise again, and the loop replaces the socket
        conn.out = conn.out[sent:]
        sel.register(conn.sock, selectors.EVENT_WRITE if conn.out else selectors.EVENT_READ, conn)

    def replace(conn: _Conn, kind: str | None) -> _Conn | None:
        """Close a connection; open a new one unless the phase is over."""
        with contextlib.suppress(KeyError, ValueError):
            sel.unregister(conn.sock)
        conn.sock.close()
        conns.remove(conn)
        if kind:
            result.error(kind)
        if stopping:
            return None
        result.reconnects += 1
        new = connect()
        conns.append(new)
        return new

    # Connections open one by one over the ramp, each sending at once, as clients arriving
    # at a live server would: gunicorn pins a keep-alive connection to the worker that
    # accepted it, and opening all of them on an idle server lets one worker take nearly all.
    opened = 0
    delay = phase.t_start - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    wall0 = time.monotonic()

    while (opened < phase.connections and not stopping) or sel.get_map():
        now = time.monotonic()
        while (
            not stopping
            and opened < phase.connections
            and now >= phase.t_start + opened * phase.ramp_step
        ):
            conn = connect()
            conns.append(conn)
            opened += 1
            send_next(conn)
        if not stopping and (
            now >= phase.t_stop or (phase.max_requests and measured >= phase.max_requests)
        ):
            stopping = True
        timeout = 0.5
        if opened < phase.connections and not stopping:
            timeout = max(0.0, phase.t_start + opened * phase.ramp_step - now)
        events = sel.select(timeout=timeout)
        if not events:
            if stopping and now > phase.t_stop + 30:  # responses that never came
                for _ in sel.get_map():
                    result.error("no response within 30 s")
                break
            continue
        for key, mask in events:
            conn = key.data
            try:
                if mask & selectors.EVENT_WRITE:
                    sent = conn.sock.send(conn.out)
                    conn.out = conn.out[sent:]
                    if not conn.out:
                        sel.modify(conn.sock, selectors.EVENT_READ, conn)
                    continue
                chunk = conn.sock.recv(65536)
            except (ConnectionError, OSError):
                chunk = b""
            if not chunk:
                # The server closed the connection (or reset it) with a request in flight.
                new = replace(conn, "connection closed by the server")
                if new is not None:
                    send_next(new)
                continue
            conn.buf += chunk
            try:
                parsed = _parse_response(conn.buf)
            except ValueError as error:
                new = replace(conn, f"bad response: {error}")
                if new is not None:
                    send_next(new)
                continue
            if parsed is None:
                continue
            done = time.monotonic()
            status, _total, close = parsed
            if status != expected:
                result.error(f"HTTP {status}")
            elif done >= phase.t_measure:
                if not result.latencies:
                    result.first = done
                result.latencies.append(done - conn.started)
                result.last = done
                measured += 1
            sel.unregister(conn.sock)
            if close:
                conn = replace(conn, None)
                if conn is None:
                    continue
            if not stopping:
                send_next(conn)
    for conn in conns:
        conn.sock.close()
    sel.close()
    result.wall = time.monotonic() - wall0


def _run_threads(phase: Phase, result: PhaseResult) -> None:
    """The naive alternative: one thread and one http.client connection per client."""
    expected = _expected_status(phase)
    lock = threading.Lock()
    counter = iter(range(1, 1 << 62))
    measured = [0]

    def client(i: int) -> None:
        conn = http.client.HTTPConnection(phase.host, phase.port, timeout=30)
        delay = phase.t_start + i * phase.ramp_step - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        while True:
            now = time.monotonic()
            if now >= phase.t_stop or (phase.max_requests and measured[0] >= phase.max_requests):
                break
            with lock:
                n = next(counter)
            started = time.monotonic()
            try:
                if phase.endpoint == "health":
                    conn.request("GET", HEALTH)
                else:
                    body = json.dumps(
                        {
                            "kind": "repository",
                            "host": "github.com",
                            "owner": f"o{phase.tag}-{n}",
                            "name": "r",
                        }
                    )
                    conn.request("POST", SUBMIT, body, {"Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as error:
                with lock:
                    result.error(type(error).__name__)
                    result.reconnects += 1
                conn.close()
                conn = http.client.HTTPConnection(phase.host, phase.port, timeout=30)
                continue
            done = time.monotonic()
            with lock:
                if status != expected:
                    result.error(f"HTTP {status}")
                elif done >= phase.t_measure:
                    if not result.latencies:
                        result.first = done
                    result.latencies.append(done - started)
                    result.last = max(result.last, done)
                    measured[0] += 1
        conn.close()

    threads = [
        threading.Thread(target=client, args=(i,), daemon=True) for i in range(phase.connections)
    ]
    wall0 = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.wall = time.monotonic() - wall0


def _client_process(mode: str, phase: Phase, pipe) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    result = PhaseResult()
    done = threading.Event()
    marks: list[float] = []

    def cpu_meter() -> None:  # CPU of this process over the measured window only
        time.sleep(max(0.0, phase.t_measure - time.monotonic()))
        marks.append(sum(os.times()[:2]))
        done.wait(max(0.0, phase.t_stop - time.monotonic()))
        marks.append(sum(os.times()[:2]))

    meter = threading.Thread(target=cpu_meter, daemon=True)
    meter.start()
    try:
        (_run_epoll if mode == "epoll" else _run_threads)(phase, result)
    except Exception as error:  # report, never hang the parent
        result.error(f"client crashed: {type(error).__name__}: {error}")
    done.set()
    meter.join()
    result.cpu = marks[1] - marks[0] if len(marks) == 2 else 0.0
    pipe.send(result)
    pipe.close()


@dataclass
class Measurement:
    endpoint: str
    count: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: dict
    reconnects: int
    connections_per_worker: list[int]  # gunicorn pins each keep-alive connection to a worker
    client_cpu: float  # CPU seconds, all client processes
    server_cpu: float  # CPU seconds, gunicorn master and workers
    db_cpu: float  # CPU seconds of the PostgreSQL backends serving this instance
    machine_busy: float  # fraction of all cores busy during the phase
    other_cpu: float  # CPU seconds used by anything else on the machine (noise)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def cpu_ms(self) -> float:
        """Server-side CPU (gunicorn + PostgreSQL backends) per measured request, in ms.

        Unlike req/s it hardly moves when other jobs share the machine.
        """
        return 1000 * (self.server_cpu + self.db_cpu) / self.count if self.count else 0.0


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[index]


def drive(endpoint: str, instance: Instance, args: argparse.Namespace, tag: str) -> Measurement:
    """Run one closed-loop phase against one endpoint and return its numbers."""
    procs = max(1, min(args.client_procs, args.clients))
    share = [args.clients // procs + (1 if i < args.clients % procs else 0) for i in range(procs)]
    quota = [args.requests // procs + (1 if i < args.requests % procs else 0) for i in range(procs)]
    ctx = mp.get_context("fork")
    t_start = time.monotonic() + 0.5 + 0.05 * args.clients / 32
    t_measure = t_start + args.warmup
    t_stop = t_measure + args.duration
    workers = []
    for i in range(procs):
        phase = Phase(
            endpoint, "127.0.0.1", instance.port, share[i], t_start, t_measure, t_stop,
            quota[i] if args.requests else 0, args.ramp * procs / args.clients, f"{tag}p{i}",
        )  # fmt: skip
        parent_end, child_end = ctx.Pipe(duplex=False)
        proc = ctx.Process(
            target=_client_process, args=(args.client_mode, phase, child_end), daemon=True
        )
        proc.start()
        child_end.close()
        workers.append((proc, parent_end))
    # Sample server and machine CPU over the measured window only.
    time.sleep(max(0.0, t_measure - time.monotonic()))
    db_pids = instance.db_pids()
    worker_pids = [p for p in group_pids(instance.server.pid) if p != instance.server.pid]
    spread = connections_per_process(worker_pids, instance.port)
    workers_cpu0 = {pid: pids_cpu([pid]) for pid in worker_pids}
    server0, db0 = group_cpu(instance.server.pid), pids_cpu(db_pids)
    busy0, total0 = machine_cpu()
    results: list[PhaseResult] = []
    ticker = t_measure
    server1 = db1 = busy1 = total1 = None
    workers_cpu: dict[int, float] = {}
    pending_pipes = [pipe for _proc, pipe in workers]
    while pending_pipes:
        wait = 0.2 if server1 is not None else max(0.0, min(0.2, t_stop - time.monotonic()))
        for pipe in list(pending_pipes):
            if pipe.poll(wait):
                results.append(pipe.recv())
                pending_pipes.remove(pipe)
            wait = 0.0
        now = time.monotonic()
        if server1 is None and (now >= t_stop or not pending_pipes):
            server1, db1 = group_cpu(instance.server.pid), pids_cpu(db_pids)
            busy1, total1 = machine_cpu()
            workers_cpu = {pid: pids_cpu([pid]) - cpu for pid, cpu in workers_cpu0.items()}
        if now - ticker >= 2 and now < t_stop:
            ticker = now
            log(f"  {endpoint}: {now - t_measure:4.0f}/{args.duration:g} s")
    for proc, _pipe in workers:
        proc.join()

    latencies = sorted(x for r in results for x in r.latencies)
    errors: dict[str, int] = {}
    for r in results:
        for kind, n in r.errors.items():
            errors[kind] = errors.get(kind, 0) + n
    lasts = [r.last for r in results if r.latencies]
    if args.requests and lasts:  # a phase cut short by the request cap
        seconds = min(args.duration, max(lasts) - t_measure)
    else:
        seconds = args.duration
    count = len(latencies)
    client_cpu = sum(r.cpu for r in results)
    busy = (busy1 - busy0) / (total1 - total0) if total1 and total1 > total0 else float("nan")
    log(
        f"  {endpoint}: connections per gunicorn worker "
        + "/".join(str(spread[p]) for p in worker_pids)
        + ", worker CPU "
        + "/".join(f"{100 * workers_cpu[p] / seconds:.0f}%" for p in worker_pids)
    )
    return Measurement(
        endpoint=endpoint,
        connections_per_worker=[spread[p] for p in worker_pids],
        count=count,
        seconds=seconds,
        rps=count / seconds if seconds > 0 else 0.0,
        p50_ms=_percentile(latencies, 0.50) * 1000,
        p99_ms=_percentile(latencies, 0.99) * 1000,
        max_ms=(latencies[-1] * 1000) if latencies else float("nan"),
        errors=errors,
        reconnects=sum(r.reconnects for r in results),
        client_cpu=client_cpu,
        server_cpu=(server1 or 0.0) - server0,
        db_cpu=db1 - db0,
        machine_busy=busy,
        other_cpu=max(
            0.0,
            (busy1 - busy0) - client_cpu - ((server1 or 0.0) - server0) - (db1 - db0),
        ),
    )


# --- instances ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def optout_command() -> list[str]:
    exe = Path(sys.executable).with_name("optout")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("optout")
    if found:
        return [found]
    return [sys.executable, "-c", "from server.cli import main; main()"]


class Instance:
    """A fresh Optout instance and its gunicorn server; always torn down on exit."""

    def __init__(self, backend: str, args: argparse.Namespace):
        self.backend = backend
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix=f"optout-bench-{backend}-"))
        self.schema: str | None = None
        self.server: subprocess.Popen | None = None
        self.log_file = None
        self.port = 0
        if backend == "sqlite":
            self.url = f"sqlite:///{self.tmp / 'optout.db'}"
        else:
            self.schema = f"bench_{os.getpid()}_{secrets.token_hex(3)}"
            # application_name lets the benchmark find (and time) this server's backends.
            sep = "&" if "?" in args.pg_url else "?"
            self.url = (
                f"{args.pg_url}{sep}options=-csearch_path%3D{self.schema}"
                f"&application_name={self.schema}"
            )
        self.env = dict(os.environ, OPTOUT_INSTANCE=str(self.tmp), OPTOUT_DATABASE_URL=self.url)
        if args.submit_rate_limit:
            # One client address sends every submission: a per-address limit would turn the
            # run into a test of 429s. A huge limit keeps the limiter's cost in the numbers.
            self.env["OPTOUT_SUBMIT_RATE_LIMIT"] = args.submit_rate_limit

    def _pg(self, sql: str) -> None:
        import psycopg2  # a declared dependency of the project

        conn = psycopg2.connect(self.args.pg_url)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(sql)
        finally:
            conn.close()

    def db_pids(self) -> list[int]:
        """Process ids of the PostgreSQL backends connected for this instance."""
        if not self.schema:
            return []
        import psycopg2

        conn = psycopg2.connect(self.args.pg_url)
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = %s",
                    (self.schema,),
                )
                return [row[0] for row in cur.fetchall()]
        finally:
            conn.close()

    def pg_version(self) -> str:
        import psycopg2

        conn = psycopg2.connect(self.args.pg_url)
        try:
            with conn.cursor() as cur:
                cur.execute("SHOW server_version")
                return cur.fetchone()[0]
        finally:
            conn.close()

    def __enter__(self) -> Instance:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def _start(self) -> None:
        if self.schema:
            self._pg(f'CREATE SCHEMA "{self.schema}"')
            log(f"{self.backend}: created schema {self.schema}")
        init = subprocess.run(
            [*optout_command(), "init"], env=self.env, capture_output=True, text=True,
            cwd=self.tmp, timeout=120,
        )  # fmt: skip
        if init.returncode != 0:
            raise RuntimeError(f"optout init failed: {init.stderr.strip()}")
        # The first admin's token (stdout); the public endpoints measured here need none.
        self.admin_token = (init.stdout.strip().splitlines() or [""])[-1]
        self.port = free_port()
        self.log_file = open(self.tmp / "server.log", "wb")  # noqa: SIM115 (closed in close)
        command = [
            *optout_command(), "serve", "--host", "127.0.0.1", "--port", str(self.port),
            "--workers", str(self.args.workers), "--threads", str(self.args.threads),
        ]  # fmt: skip
        self.server = subprocess.Popen(
            command, env=self.env, cwd=self.tmp, stdout=self.log_file,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        log(f"{self.backend}: serving on 127.0.0.1:{self.port} (pid {self.server.pid})")
        deadline = time.monotonic() + 30
        while True:
            if self.server.poll() is not None:
                raise RuntimeError(f"optout serve exited with {self.server.returncode}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", HEALTH)
                if conn.getresponse().status == 200:
                    conn.close()
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not answer /api/v1/health within 30 s")
            time.sleep(0.1)
        # Wait until every worker has booted (each answers health), so no phase pays it.
        time.sleep(0.5)

    def close(self) -> None:
        if self.server is not None and self.server.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.server.pid, signal.SIGTERM)
            try:
                self.server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.server.pid, signal.SIGKILL)
                self.server.wait()
        if self.server is not None:  # workers left behind by a master that died
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.server.pid, signal.SIGKILL)
        if self.log_file:
            self.log_file.close()
        if self.schema:
            try:
                self._pg(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
                log(f"{self.backend}: dropped schema {self.schema}")
            except Exception as error:  # noqa: BLE001 (report and go on tearing down)
                log(f"{self.backend}: could not drop schema {self.schema}: {error}")
        if self.args.keep:
            log(f"{self.backend}: kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __exit__(self, *exc) -> None:
        self.close()

    def rows(self) -> int:
        """Number of stored requests (a check that submissions really were written)."""
        if self.backend == "sqlite":
            import sqlite3

            conn = sqlite3.connect(self.tmp / "optout.db")
            try:
                return conn.execute("SELECT count(*) FROM request").fetchone()[0]
            finally:
                conn.close()
        import psycopg2

        conn = psycopg2.connect(self.args.pg_url)
        try:
            with conn.cursor() as cur:
                cur.execute(f'SELECT count(*) FROM "{self.schema}".request')
                return cur.fetchone()[0]
        finally:
            conn.close()


# --- report ---------------------------------------------------------------------------


def _fmt_errors(m: Measurement) -> str:
    if not m.errors:
        return "0"
    return f"{m.error_count} (" + ", ".join(f"{k}: {v}" for k, v in m.errors.items()) + ")"


def report(results: dict[str, dict[str, Measurement]], args: argparse.Namespace) -> bool:
    """Print the table and the verdicts on stdout; return whether every target holds."""
    print()
    print(
        f"Optout API load: {args.clients} concurrent keep-alive clients, "
        f"{args.duration:g} s per phase after {args.warmup:g} s warm-up"
        + (f", at most {args.requests} requests" if args.requests else "")
        + f"; gunicorn {args.workers} worker(s) x {args.threads} thread(s); "
        f"load generator {args.client_procs} process(es), {args.client_mode}"
    )
    header = (
        f"{'backend':<11} {'endpoint':<22} {'requests':>9} {'req/s':>7} {'p50 ms':>7} "
        f"{'p99 ms':>7} {'max ms':>7} {'errors':>6} {'client':>7} {'server':>7} "
        f"{'db':>5} {'other':>6} {'CPU ms/req':>10}"
    )
    print(header)
    print("-" * len(header))
    all_ok = True
    verdicts = []
    noisy: list[str] = []
    for backend, phases in results.items():
        for m in phases.values():
            name = "GET health (baseline)" if m.endpoint == "health" else "POST requests"
            pct = lambda cpu, m=m: 100 * cpu / m.seconds if m.seconds else 0.0  # noqa: E731
            print(
                f"{backend:<11} {name:<22} {m.count:>9} {m.rps:>7.0f} {m.p50_ms:>7.1f} "
                f"{m.p99_ms:>7.1f} {m.max_ms:>7.1f} {m.error_count:>6} "
                f"{pct(m.client_cpu):>6.0f}% {pct(m.server_cpu):>6.0f}% "
                f"{pct(m.db_cpu):>4.0f}% {pct(m.other_cpu):>5.0f}% {m.cpu_ms:>10.2f}"
            )
            if m.errors:
                print(f"{'':<11} errors: {_fmt_errors(m)}")
            if pct(m.other_cpu) > NOISE_PCT:
                noisy.append(f"{backend} {m.endpoint}")
        health, submit = phases.get("health"), phases.get("submit")
        if health and submit:
            ratio = submit.rps / health.rps if health.rps else 0.0
            ratio_ok = ratio >= TARGET_RATIO
            p99_ok = max(health.p99_ms, submit.p99_ms) < TARGET_P99_MS
            errors_ok = health.error_count == 0 and submit.error_count == 0
            all_ok = all_ok and ratio_ok and p99_ok and errors_ok
            cost = health.cpu_ms / submit.cpu_ms if submit.cpu_ms else 0.0
            verdicts += [
                f"{backend}:",
                f"  throughput ratio submissions/health = {ratio:.2f} "
                f"(target >= {TARGET_RATIO:.2f}): {'MET' if ratio_ok else 'NOT MET'}",
                f"  p99 at {args.clients} clients: health {health.p99_ms:.1f} ms, submissions "
                f"{submit.p99_ms:.1f} ms (target < {TARGET_P99_MS:.0f} ms): "
                f"{'MET' if p99_ok else 'NOT MET'}",
                f"  errors: {health.error_count + submit.error_count}",
                f"  server CPU per request: health {health.cpu_ms:.2f} ms, submission "
                f"{submit.cpu_ms:.2f} ms; their ratio {cost:.2f} is where the throughput ratio "
                "goes when CPU is the only limit",
            ]
    print()
    print(
        f"CPU columns, in % of one core over the measured window ({100 * (os.cpu_count() or 1)}%"
        " = every core): client = the load generator; server = gunicorn master and workers;"
        " db = the PostgreSQL backends of this instance; other = everything else on the"
        " machine (kernel threads, other jobs: noise if high). CPU ms/req = (server + db) CPU"
        " per measured request."
    )
    print(
        "Background load before each backend (1 s sample, all cores): "
        + ", ".join(f"{b} {100 * v:.0f}%" for b, v in args.background.items())
    )
    print()
    if noisy:
        print(
            f"WARNING: other processes used more than {NOISE_PCT:.0f}% of a core during: "
            + ", ".join(noisy)
            + ". The machine was not quiet; those numbers are understated. Rerun."
        )
        print()
    for line in verdicts:
        print(line)
    if args.clients != 32:
        print(f"(the p99 target is defined at 32 clients; this run used {args.clients})")
    print(f"targets: {'ALL MET' if all_ok else 'NOT ALL MET'}")
    return all_ok


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Load-test the Optout API on fresh instances: throughput and latency of "
            "POST /api/v1/requests against GET /api/v1/health, per database backend."
        ),
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--backends", default="sqlite,postgresql",
        help="comma-separated list of sqlite, postgresql (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--clients", type=int, default=32,
        help="concurrent keep-alive connections (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--duration", type=float, default=10.0,
        help="measured seconds per endpoint and backend (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--requests", type=int, default=0,
        help="also stop a phase after this many measured requests, give or take those in "
        "flight (default: no limit)",
    )  # fmt: skip
    parser.add_argument(
        "--warmup", type=float, default=2.0,
        help="unmeasured seconds before each phase (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--ramp", type=float, default=None,
        help="seconds over which the connections open, one by one, under load "
        "(default: half the warm-up; 0 opens them all at once)",
    )  # fmt: skip
    parser.add_argument(
        "--workers", type=int, default=None,
        help="gunicorn worker processes (default: the `optout serve` default)",
    )  # fmt: skip
    parser.add_argument(
        "--threads", type=int, default=None,
        help="threads per gunicorn worker (default: the `optout serve` default)",
    )  # fmt: skip
    parser.add_argument(
        "--client-procs", type=int, default=1,
        help="load generator processes, the clients split among them (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--client-mode", choices=["epoll", "threads"], default="epoll",
        help="epoll: one raw-socket event loop per process (cheap); threads: one "
        "http.client thread per connection (to measure a naive client) (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--pg-url", default="postgresql://postgres@127.0.0.1:5432/test",
        help="PostgreSQL database in which a temporary schema is made and dropped "
        "(default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--submit-rate-limit", default="1000000000 per hour", metavar="LIMIT",
        help="OPTOUT_SUBMIT_RATE_LIMIT for the instance: the limiter still runs, but so "
        "high that it never refuses; '' keeps the instance's own limit (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    parser.add_argument("--keep", action="store_true", help="keep the temporary instance dirs")
    args = parser.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(backends) - {"sqlite", "postgresql"}
    if unknown or not backends:
        parser.error(f"unknown backend(s): {', '.join(sorted(unknown)) or '(none)'}")
    args.backends = backends
    if args.clients < 1 or args.duration <= 0 or args.requests < 0 or args.warmup < 0:
        parser.error("--clients and --duration must be positive, --requests/--warmup >= 0")
    if args.client_procs < 1:
        parser.error("--client-procs must be >= 1")
    if args.ramp is None:
        args.ramp = args.warmup / 2
    if args.ramp < 0 or args.ramp > args.warmup:
        parser.error("--ramp must be between 0 and --warmup")
    if args.workers is None or args.threads is None:
        from server import cli

        defaults = {p.name: p.default for p in cli.serve.params}
        args.workers = args.workers or defaults["workers"]
        args.threads = args.threads or defaults["threads"]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results: dict[str, dict[str, Measurement]] = {}
    tag = secrets.token_hex(2)
    args.background = {}

    def interrupted(_signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)  # even when started with SIGINT ignored
    try:
        for backend in args.backends:
            idle_busy = background_load()
            args.background[backend] = idle_busy
            log(f"{backend}: machine {100 * idle_busy:.0f}% busy before the run")
            if idle_busy > 0.10:
                log("warning: something else is using the CPU; the numbers will be lower")
            log(f"{backend}: setting up a fresh instance")
            try:
                instance = Instance(backend, args)
                with instance:
                    if backend == "postgresql":
                        args.pg_version = instance.pg_version()
                    phases = {}
                    for endpoint in ("health", "submit"):
                        log(f"{backend}: {endpoint}, {args.clients} clients, "
                            f"{args.warmup:g} s warm-up + {args.duration:g} s")  # fmt: skip
                        m = drive(endpoint, instance, args, f"{tag}{backend[0]}")
                        phases[endpoint] = m
                        log(f"{backend}: {endpoint}: {m.rps:.0f} req/s, p50 {m.p50_ms:.1f} ms,"
                            f" p99 {m.p99_ms:.1f} ms, errors {m.error_count}")  # fmt: skip
                    stored = instance.rows()
                    log(f"{backend}: {stored} requests stored")
                    results[backend] = phases
            except (RuntimeError, OSError, subprocess.SubprocessError) as error:
                log(f"{backend}: could not run: {error}")
                if backend == "postgresql":
                    log("is PostgreSQL up? see --pg-url")
                return 2
    except KeyboardInterrupt:
        log("interrupted; the servers were stopped")
        return 130
    report(results, args)
    if args.json:
        payload = {
            "args": {k: v for k, v in vars(args).items() if k != "json"},
            "results": {
                b: {e: dict(vars(m), error_count=m.error_count) for e, m in ph.items()}
                for b, ph in results.items()
            },
        }
        Path(args.json).write_text(json.dumps(payload, indent=2, default=str) + "\n")
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
