"""Named leases in the database: one process at a time runs a job, across processes and hosts.

APScheduler keeps a job from overlapping itself inside one process (`max_instances=1`), but two
`schoolwacht run` processes on one database would each run it. A job therefore first takes the
lease named after it. Taking a lease is one conditional UPDATE (or an INSERT that only one
process can win), so it is atomic on SQLite and PostgreSQL alike. A holder that dies keeps the
lease only until it expires.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from store.db import session_scope
from store.models import Lease
from store.types import utcnow

# Identifies this process in `Lease.holder`: host and pid for people, a random part for uniqueness.
HOLDER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def acquire(engine: Engine, name: str, seconds: float, *, holder: str = HOLDER,
            now: datetime | None = None) -> bool:
    """Take the lease `name` for `seconds` unless another live holder has it."""
    now = now or utcnow()
    expires = now + timedelta(seconds=seconds)
    with session_scope(engine) as session:
        taken = session.execute(
            update(Lease)
            .where(Lease.name == name, or_(Lease.expires_at <= now, Lease.holder == holder))
            .values(holder=holder, acquired_at=now, expires_at=expires)
        ).rowcount
        if taken:
            return True
        if session.get(Lease, name) is not None:
            return False
    try:
        with session_scope(engine) as session:
            session.add(Lease(name=name, holder=holder, acquired_at=now, expires_at=expires))
        return True
    except IntegrityError:  # another process inserted it first
        return False


def release(engine: Engine, name: str, *, holder: str = HOLDER, error: str | None = None,
            now: datetime | None = None) -> None:
    """Give the lease back (it expires now) and record how the job ended."""
    now = now or utcnow()
    with session_scope(engine) as session:
        session.execute(
            update(Lease).where(Lease.name == name, Lease.holder == holder)
            .values(expires_at=now, last_finished_at=now, last_error=error)
        )


@contextmanager
def held(engine: Engine, name: str, seconds: float, *, holder: str = HOLDER) -> Iterator[bool]:
    """`with held(engine, "job:digest", 300) as mine: if mine: ...`; released on exit, with the
    exception text recorded when the body fails."""
    mine = acquire(engine, name, seconds, holder=holder)
    error: str | None = None
    try:
        yield mine
    except BaseException as exc:
        error = f"{type(exc).__name__}: {exc}"[:2000]
        raise
    finally:
        if mine:
            release(engine, name, holder=holder, error=error)


def lease_states(session: Session) -> list[Lease]:
    return list(session.exec(select(Lease).order_by(Lease.name)))
