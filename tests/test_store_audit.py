"""Audit appends of page views (`store.audit.record_committed`): group commit within a process,
one chain across processes, and no view shown when its entry could not be written."""

from __future__ import annotations

import multiprocessing
import stat
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import create_engine, event, func, select
from sqlalchemy.engine import Engine

from store import audit
from store.audit import record_committed, verify_chain
from store.db import make_engine, session_scope
from store.models import AuditEntry
from tests.helpers.fixtures import Env


def _view(engine: Engine, n: int, results: dict[int, Any]) -> None:
    try:
        with session_scope(engine) as session:
            results[n] = record_committed(session, actor=f"user{n}@school.example", action="case_view",
                                          object_type="case", object_id=n)
    except BaseException as exc:  # the test looks at what each view got
        results[n] = exc


def _views_queued_behind_the_turn(engine: Engine, count: int) -> tuple[list[threading.Thread], dict[int, Any],
                                                                       Callable[[], None]]:
    """Start `count` views while the process's turn on the chain is taken; returns the threads, their
    results and a function that frees the turn once every view is queued."""
    appender = audit._appender(engine)
    appender._turn.acquire()
    results: dict[int, Any] = {}
    threads = [threading.Thread(target=_view, args=(engine, n, results)) for n in range(count)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while len(appender._pending) < count:
        assert time.monotonic() < deadline, "the views never queued"
        time.sleep(0.01)
    return threads, results, appender._turn.release


def _audit_inserts(engine: Engine) -> list[int]:
    """Counts the rows of every INSERT into the audit table (one entry per statement execution)."""
    seen: list[int] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _count(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO AUDITENTRY"):
            seen.append(len(parameters) if many else 1)

    return seen


def test_views_that_queue_up_are_committed_in_one_batch(env_any_db: Env) -> None:
    settings = env_any_db.write([])
    engine = make_engine(settings.database.url)
    try:
        inserts = _audit_inserts(engine)
        threads, results, release = _views_queued_behind_the_turn(engine, 6)
        release()
        for thread in threads:
            thread.join(timeout=60)
        assert inserts == [6]  # one statement for all six views, in one transaction
        with session_scope(engine) as session:
            rows = session.execute(select(AuditEntry.object_id, AuditEntry.hash)).all()
            assert verify_chain(session).ok
        # Every view got the hash of its own entry back.
        assert {int(object_id): digest for object_id, digest in rows} == results
    finally:
        engine.dispose()


def test_a_failed_batch_fails_every_view_in_it_and_writes_nothing(env_any_db: Env) -> None:
    settings = env_any_db.write([])
    engine = make_engine(settings.database.url)
    failing = [True]

    @event.listens_for(engine, "before_cursor_execute")
    def _fail(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if failing[0] and statement.lstrip().upper().startswith("INSERT INTO AUDITENTRY"):
            raise RuntimeError("disk full")

    try:
        threads, results, release = _views_queued_behind_the_turn(engine, 4)
        release()
        for thread in threads:
            thread.join(timeout=60)
        assert len(results) == 4
        assert all(isinstance(r, RuntimeError) and "disk full" in str(r) for r in results.values()), results
        with session_scope(engine) as session:
            assert session.execute(select(func.count()).select_from(AuditEntry)).scalar_one() == 0
        failing[0] = False  # the next view after the failure is written as usual
        later: dict[int, Any] = {}
        _view(engine, 99, later)
        assert isinstance(later[99], str)
        with session_scope(engine) as session:
            assert session.execute(select(AuditEntry.object_id)).scalars().all() == ["99"]
            assert verify_chain(session).ok
    finally:
        engine.dispose()


def _append_many(url: str, worker: int, count: int) -> None:
    engine = make_engine(url)
    results: dict[int, Any] = {}
    threads = [threading.Thread(target=_view, args=(engine, worker * 1000 + n, results)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    engine.dispose()
    errors = [r for r in results.values() if not isinstance(r, str)]
    if errors or len(results) != count:
        raise SystemExit(f"worker {worker}: {len(results)} results, errors {errors[:3]}")


def test_processes_sharing_one_sqlite_file_keep_one_chain(env: Env) -> None:
    settings = env.write([])
    spawn = multiprocessing.get_context("spawn")
    workers = [spawn.Process(target=_append_many, args=(settings.database.url, w, 40)) for w in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=180)
    assert [w.exitcode for w in workers] == [0, 0, 0]
    with env.session() as session:
        assert session.execute(select(func.count()).select_from(AuditEntry)).scalar_one() == 120
        assert verify_chain(session).ok
    lock_file = audit.lock_file_for(make_engine(settings.database.url))
    assert lock_file is not None and lock_file.exists()
    assert stat.S_IMODE(lock_file.stat().st_mode) == 0o600


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "postgresql+psycopg://postgres@127.0.0.1/x"])
def test_only_a_sqlite_file_gets_a_lock_file(url: str) -> None:
    assert audit.lock_file_for(create_engine(url)) is None  # no connection is made
