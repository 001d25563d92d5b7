"""The audit log's queue and sequencer, as `optout serve` runs them.

A queued entry commits or rolls back with its change, reaches the log only through the
sequencer (or a checkpoint, which sequences first), keeps each writer's order, and leaves a log
that verifies. Also: SQLite writers queue on a file lock, and the PostgreSQL pool waits for a
free connection instead of failing.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from server import auditlog
from server.audit import record_action
from server.checkpoints import origin, signer, trusted_verifiers
from server.db import db, is_postgres, open_database
from server.log_verify import verify_log
from server.models import AuditNote, AuditQueue, LogEntry, Request
from server.sequencer import Sequencer
from shared.audit_entry import note_digest, parse_entry

OPTOUT = str(Path(sys.executable).parent / "optout")


@pytest.fixture
def queueing():
    """Queue appends as a server process does, without a sequencer thread."""
    auditlog.set_queueing(True)
    yield
    auditlog.set_queueing(False)


@pytest.fixture
def sequencer(app):
    running = Sequencer(interval=0.01).start()
    yield running
    running.stop()


def _subjects() -> list[str]:
    return [parse_entry(bytes(r.entry))["subject"] for r in LogEntry.select().order_by(LogEntry.index)]


def _assert_verifies(size: int) -> None:
    report = verify_log(trusted_verifiers(signer().verifier), origin())
    assert report.ok, report.problems
    assert report.size == size


def test_a_queued_entry_waits_outside_the_log_until_sequenced(app, queueing):
    with db.atomic():
        assert record_action("alice", "test.done", "thing:1") is None
        assert record_action("alice", "test.done", "thing:2", reason="because") is None
    assert AuditQueue.select().count() == 2
    assert LogEntry.select().count() == 0 and auditlog.size() == 0
    note = AuditNote.get()
    assert note.entry_index is None  # not in the log yet

    with db.atomic():
        assert auditlog.sequence() == 2
    assert AuditQueue.select().count() == 0
    assert _subjects() == ["thing:1", "thing:2"]
    note = AuditNote.get()
    assert note.entry_index == 1
    entry = parse_entry(bytes(LogEntry.get(LogEntry.index == 1).entry))
    assert entry["note"]["id"] == note.id
    assert entry["note"]["sha256"] == note_digest(bytes(note.salt), "because")
    _assert_verifies(2)


def test_a_rolled_back_change_leaves_nothing_queued(app, queueing):
    with pytest.raises(RuntimeError), db.atomic():
        record_action("alice", "test.done", "thing:1", reason="secret reason")
        raise RuntimeError("the change failed")
    assert AuditQueue.select().count() == 0
    assert AuditNote.select().count() == 0
    with db.atomic():
        assert auditlog.sequence() == 0
    assert auditlog.size() == 0


def test_an_immediate_append_sequences_the_queue_first(app, queueing):
    with db.atomic():
        record_action("alice", "test.done", "queued:1")
        record_action("alice", "test.done", "queued:2")
    with db.atomic():
        index = record_action("bob", "test.done", "now", sequenced=True)
    assert index == 2
    assert _subjects() == ["queued:1", "queued:2", "now"]
    assert AuditQueue.select().count() == 0
    _assert_verifies(3)


def test_sequence_moves_at_most_the_limit_in_order(app, queueing):
    with db.atomic():
        for k in range(7):
            record_action("alice", "test.done", f"thing:{k}")
    with db.atomic():
        assert auditlog.sequence(limit=3) == 3
    assert _subjects() == ["thing:0", "thing:1", "thing:2"]
    with db.atomic():
        assert auditlog.sequence(limit=100) == 4
    assert _subjects() == [f"thing:{k}" for k in range(7)]
    _assert_verifies(7)


def test_sequencing_outside_a_transaction_is_refused(app):
    with pytest.raises(auditlog.LogOutsideTransaction):
        auditlog.sequence()


def test_a_checkpoint_covers_every_change_committed_before_it(app, live_server, queueing):
    with db.atomic():
        record_action("alice", "test.done", "thing:1")
        record_action("alice", "test.done", "thing:2")
    checkpoint = requests.get(f"{live_server}/api/v1/audit/checkpoint", timeout=10).json()
    assert checkpoint["size"] == 2
    assert AuditQueue.select().count() == 0


def test_served_submissions_are_sequenced_by_the_thread(app, live_server, sequencer):
    def submit(k: int) -> int:
        answer = requests.post(
            f"{live_server}/api/v1/requests",
            json={"kind": "owner", "host": "github.com", "owner": f"owner-{k}"}, timeout=10)
        assert answer.status_code == 201, answer.text
        return answer.json()["request"]["id"]

    with ThreadPoolExecutor(4) as pool:
        ids = list(pool.map(submit, range(24)))
    sequencer.stop()  # folds anything the thread has not reached yet
    assert AuditQueue.select().count() == 0
    subjects = _subjects()
    assert sorted(subjects) == sorted(f"request:{i}" for i in ids)  # each exactly once
    assert Request.select().count() == 24
    _assert_verifies(24)


def test_the_sequencer_thread_runs_without_being_asked(app, sequencer):
    with db.atomic():
        record_action("alice", "test.done", "thing:1")
    done = threading.Event()
    for _ in range(500):  # up to 5 s; the interval is 10 ms
        if LogEntry.select().count() == 1:
            done.set()
            break
        done.wait(0.01)
    assert done.is_set(), "the sequencer never moved the entry"
    assert AuditQueue.select().count() == 0


def _run(instance: Path, database_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OPTOUT_INSTANCE": str(instance), "OPTOUT_DATABASE_URL": database_url}
    return subprocess.run([OPTOUT, "audit", *args], env=env, capture_output=True, text=True,
                          timeout=60)


def test_cli_reports_and_sequences_what_a_stopped_server_left(app, database_url, instance,
                                                             queueing):
    with db.atomic():
        record_action("alice", "test.done", "thing:1")
        record_action("alice", "test.done", "thing:2")
    db.close()
    result = _run(instance, database_url, "verify")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "ok: 0 entries, 0 checkpoints verified",
        "2 committed entries wait for the sequencer ('optout audit sequence' moves them now)",
    ]
    result = _run(instance, database_url, "sequence")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "sequenced 2 entries; the log holds 2"
    result = _run(instance, database_url, "verify", "--json")
    assert '"size": 2' in result.stdout and '"queued": 0' in result.stdout


# --- SQLite: writers queue on a file lock --------------------------------------------------


def test_sqlite_writers_queue_on_a_file_lock_not_on_the_busy_timeout(tmp_path):
    from peewee import IntegerField, Model

    url = f"sqlite:///{tmp_path / 'w.db'}"
    # A 1 ms busy timeout: any writer that met SQLite's lock instead of the file lock would fail.
    database = open_database(url, busy_timeout_ms=1)

    class Counter(Model):
        value = IntegerField()

        class Meta:
            table_name = "counter"

    Counter.bind(database)
    with database.connection_context():
        database.create_tables([Counter])
    lock_file = tmp_path / "w.db.writelock"
    failures: list[BaseException] = []
    start = threading.Barrier(6)

    def write(worker: int) -> None:
        try:
            start.wait(10)
            for k in range(30):
                with database.atomic():
                    Counter.create(value=worker * 100 + k)
                    Counter.select().count()  # hold the lock a little
        except BaseException as error:
            failures.append(error)
        finally:
            database.close()

    threads = [threading.Thread(target=write, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures, failures
    with database.connection_context():
        assert Counter.select().count() == 180
    assert stat.S_IMODE(lock_file.stat().st_mode) == 0o600


def test_sqlite_file_lock_is_released_by_a_failed_transaction(tmp_path):
    database = open_database(f"sqlite:///{tmp_path / 'w.db'}", busy_timeout_ms=1)
    with database.connection_context():
        database.execute_sql("CREATE TABLE t (x INTEGER)")
    with pytest.raises(ZeroDivisionError), database.atomic():
        database.execute_sql("INSERT INTO t VALUES (1)")
        _ = 1 / 0
    done = threading.Event()

    def other_thread() -> None:
        with database.atomic():
            database.execute_sql("INSERT INTO t VALUES (2)")
        database.close()
        done.set()

    thread = threading.Thread(target=other_thread, daemon=True)
    thread.start()
    thread.join(10)
    assert done.is_set(), "the file lock was still held after the rollback"
    assert database.execute_sql("SELECT x FROM t").fetchall() == [(2,)]
    database.close()


# --- PostgreSQL: the pool is sized from the server's threads, and waits ----------------------


def test_the_pool_has_a_connection_for_every_server_thread(database_url, instance):
    from server import create_app

    create_app({"DATABASE_URL": database_url, "SERVER_THREADS": 16, "DB_POOL_SIZE": 8})
    if not is_postgres():
        pytest.skip("SQLite opens one connection per thread; there is no pool")
    assert db.obj._max_connections == 18  # 16 threads, the sequencer and one spare


def test_an_exhausted_pool_waits_for_a_connection(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL pool only")
    database = open_database(database_url, pool_size=1)
    database.connect()
    got = threading.Event()

    def second_thread() -> None:
        database.connect()  # waits for the first thread's connection instead of raising
        database.execute_sql("SELECT 1")
        got.set()
        database.close()

    thread = threading.Thread(target=second_thread, daemon=True)
    thread.start()
    thread.join(0.3)
    assert not got.is_set()  # the only connection is still in use
    database.close()  # back to the pool
    thread.join(10)
    assert got.is_set()
    database.close_all()
