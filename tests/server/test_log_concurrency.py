"""Concurrent appends to the audit log, from several OS processes and from threads.

Each writer appends through ``record_action`` inside ``db.atomic()``, as every workflow does,
either sequencing each entry at once or, as in ``optout serve``, queueing it for a sequencer
thread that every process runs. Afterwards the indexes are exactly 0..n-1, each writer's entries are all there in its own
order, every stored subtree hash is right, and ``optout audit verify`` passes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from server.checkpoints import origin, publish, signer, trusted_verifiers
from server.db import db
from server.log_verify import verify_log
from server.models import AuditQueue, LogEntry, LogHead, LogNode
from shared.audit_entry import parse_entry

REPO = Path(__file__).resolve().parents[2]
OPTOUT = str(Path(sys.executable).parent / "optout")

# One writer process: build the app, say "ready", wait for "go" on stdin, then append.
# Without the pause one SQLite writer would take the lock 50 times in a row.
WRITER = """\
import sys
import time
from server import create_app
from server.audit import record_action
from server.db import db
from server.sequencer import Sequencer

name, url, count, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
app = create_app({"TESTING": True, "DATABASE_URL": url, "RATELIMIT_ENABLED": False})
with app.app_context():
    sequencer = Sequencer(interval=0.005).start() if mode == "queued" else None
    db.connect()
    print("ready", flush=True)
    sys.stdin.readline()
    for k in range(count):
        with db.atomic():
            record_action(name, "test.appended", f"{name}:{k}")
        time.sleep(0.002)  # a worker does other work between requests
    db.close()
    if sequencer is not None:
        sequencer.stop()
"""


def run_writer_processes(database_url: str, writers: list[str], count: int,
                         mode: str = "immediate") -> None:
    """Start one process per writer, release them together, and wait for all to finish."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, name, database_url, str(count), mode],
            cwd=REPO,
            env=os.environ.copy(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in writers
    ]
    try:
        for proc in procs:  # every process is connected before any starts appending
            assert proc.stdout.readline().strip() == "ready", proc.communicate(timeout=30)[1]
        for proc in procs:
            proc.stdin.write("go\n")
            proc.stdin.flush()
        for proc in procs:
            _out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def assert_log_is_whole(writers: list[str], count: int) -> None:
    """No gaps or repeats; each writer's entries all present, in its order; hashes right."""
    size = len(writers) * count
    rows = list(LogEntry.select().order_by(LogEntry.index))
    assert [row.index for row in rows] == list(range(size))
    assert LogHead.get_by_id(1).size == size
    subjects = [parse_entry(bytes(row.entry))["subject"] for row in rows]
    for name in writers:
        assert [s for s in subjects if s.startswith(f"{name}:")] == [
            f"{name}:{k}" for k in range(count)
        ]
    # A log of n entries has exactly 2n - popcount(n) complete subtrees.
    assert LogNode.select().count() == 2 * size - bin(size).count("1")
    publish()
    report = verify_log(trusted_verifiers(signer().verifier), origin())
    assert report.ok, report.problems
    assert (report.size, report.checkpoints) == (size, 1)


@pytest.mark.parametrize("mode", ["immediate", "queued"])
def test_processes_appending_at_once_leave_no_gap_or_repeat(app, database_url, instance, mode):
    writers = [f"proc{w}" for w in range(4)]
    run_writer_processes(database_url, writers, count=50, mode=mode)
    assert AuditQueue.select().count() == 0
    assert_log_is_whole(writers, count=50)
    order = [
        parse_entry(bytes(row.entry))["actor"] for row in LogEntry.select().order_by(LogEntry.index)
    ]
    switches = sum(a != b for a, b in zip(order, order[1:], strict=False))
    assert switches > len(writers) - 1, "the writers never overlapped; nothing was tested"
    env = {**os.environ, "OPTOUT_INSTANCE": str(instance), "OPTOUT_DATABASE_URL": database_url}
    result = subprocess.run(
        [OPTOUT, "audit", "verify"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok: 200 entries, 1 checkpoints verified"


def test_threads_appending_at_once_leave_no_gap_or_repeat(app):
    from server.audit import record_action

    writers, count = ["thread0", "thread1"], 50
    start, failures = threading.Barrier(len(writers)), []

    def append_all(name: str) -> None:
        try:
            with app.app_context():
                start.wait(timeout=10)
                for k in range(count):
                    with db.atomic():
                        record_action(name, "test.appended", f"{name}:{k}")
        except BaseException as error:  # reported by the test thread below
            failures.append(error)
        finally:
            db.close()  # this thread's connection

    threads = [threading.Thread(target=append_all, args=(name,)) for name in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not failures, failures
    assert_log_is_whole(writers, count)
