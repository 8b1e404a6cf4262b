"""Database leases: one holder at a time, expiry, release, races (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from store import leases
from store.db import make_engine
from store.migrate import upgrade
from store.models import Lease
from store.types import utcnow


@pytest.fixture
def engine(database_url: str):
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def test_a_lease_has_one_holder_until_it_expires(engine) -> None:
    now = utcnow()
    assert leases.acquire(engine, "job:x", 60, holder="a", now=now)
    assert not leases.acquire(engine, "job:x", 60, holder="b", now=now + timedelta(seconds=30))
    # The holder renews its own lease.
    assert leases.acquire(engine, "job:x", 60, holder="a", now=now + timedelta(seconds=30))
    # A holder that stopped renewing loses it after expiry.
    assert leases.acquire(engine, "job:x", 60, holder="b", now=now + timedelta(seconds=91))
    assert not leases.acquire(engine, "job:x", 60, holder="a", now=now + timedelta(seconds=92))


def test_release_frees_the_lease_and_records_the_outcome(engine) -> None:
    assert leases.acquire(engine, "job:y", 600, holder="a")
    leases.release(engine, "job:y", holder="b")  # not the holder: no effect
    assert not leases.acquire(engine, "job:y", 600, holder="b")
    leases.release(engine, "job:y", holder="a", error="RuntimeError: boom")
    assert leases.acquire(engine, "job:y", 600, holder="b")
    from sqlmodel import Session

    with Session(engine) as session:
        row = session.get(Lease, "job:y")
        assert row is not None and row.holder == "b"
        assert row.last_error == "RuntimeError: boom" and row.last_finished_at is not None


def test_held_releases_on_error_and_skips_when_taken(engine) -> None:
    with pytest.raises(ValueError), leases.held(engine, "job:z", 600, holder="a") as mine:
        assert mine
        raise ValueError("broken job")
    with leases.held(engine, "job:z", 600, holder="b") as mine:
        assert mine
        with leases.held(engine, "job:z", 600, holder="c") as other:
            assert not other


def test_racing_processes_get_exactly_one_lease(engine) -> None:
    winners: list[str] = []
    barrier = threading.Barrier(8)

    def contend(name: str) -> None:
        barrier.wait()
        if leases.acquire(engine, "job:race", 600, holder=name):
            winners.append(name)

    threads = [threading.Thread(target=contend, args=(f"h{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1
