"""The audit log: append-only, hash-chained (`schoolwacht audit verify`).

Each entry's hash covers its own fields and the previous entry's hash, so changing, deleting
or inserting an entry anywhere breaks the chain from that point on. Appends are serialised
(PostgreSQL: a transaction-level advisory lock; SQLite: the write lock of the transaction) so
two requests can never both chain onto the same predecessor.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy import select as select_columns
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from store.models import AuditEntry
from store.types import utcnow

GENESIS = "0" * 64
_LOCK_KEY = 0x5C400A  # the advisory lock of the audit chain on PostgreSQL


def entry_hash(prev_hash: str, *, at: datetime, actor_id: int | None, actor: str, action: str,
               object_type: str, object_id: str, detail: dict[str, Any]) -> str:
    canonical = json.dumps(
        {"prev": prev_hash, "at": at.isoformat(timespec="microseconds"), "actor_id": actor_id, "actor": actor,
         "action": action, "object_type": object_type, "object_id": object_id, "detail": detail},
        sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# Built once: every case view appends here.
_ADVISORY_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
_SQLITE_WRITE_LOCK = text("UPDATE lease SET name = name WHERE 0")
_LAST_HASH = select_columns(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)  # type: ignore[union-attr]
_INSERT = insert(AuditEntry.__table__)  # type: ignore[attr-defined]  # Core, not the ORM's bulk path


def _take_chain(session: Session) -> str:
    """Serialise appends for the rest of the caller's transaction; returns the chain's last hash."""
    connection = session.connection()  # plain Core statements: no ORM work on this path
    if connection.dialect.name == "postgresql":
        connection.execute(_ADVISORY_LOCK, {"key": _LOCK_KEY})
    elif connection.dialect.name == "sqlite":
        # Take SQLite's write lock now, before reading the chain's last hash.
        connection.execute(_SQLITE_WRITE_LOCK)
    last = connection.execute(_LAST_HASH).scalar()
    return last if last is not None else GENESIS


def _entry(*, actor: str, action: str, actor_id: int | None, object_type: str, object_id: str | int,
           detail: dict[str, Any] | None, now: datetime | None) -> dict[str, Any]:
    """The fields of one entry as they are stored and hashed."""
    return {"at": now or utcnow(), "actor_id": actor_id, "actor": actor[:320], "action": action[:64],
            "object_type": object_type[:32], "object_id": str(object_id)[:64],
            "detail": json.loads(json.dumps(detail or {}, default=str))}


def _append(session: Session, entries: list[dict[str, Any]]) -> list[str]:
    """Chain `entries` onto the log in the caller's transaction (one INSERT for all); their hashes."""
    prev = _take_chain(session)
    rows, digests = [], []
    for fields in entries:
        digest = entry_hash(prev, **fields)
        rows.append({"prev_hash": prev, "hash": digest, **fields})
        digests.append(digest)
        prev = digest
    session.connection().execute(_INSERT, rows)
    return digests


def record(session: Session, *, actor: str, action: str, actor_id: int | None = None,
           object_type: str = "", object_id: str | int = "", detail: dict[str, Any] | None = None,
           now: datetime | None = None) -> str:
    """Append one entry in the caller's transaction (committed with the action it records);
    returns its hash. Plain statements, not ORM objects: every case view lands here."""
    return _append(session, [_entry(actor=actor, action=action, actor_id=actor_id, object_type=object_type,
                                    object_id=object_id, detail=detail, now=now)])[0]


@dataclass(eq=False)
class _Pending:
    fields: dict[str, Any]
    done: bool = False
    digest: str = ""
    error: BaseException | None = None


class _GroupAppender:
    """Group commit of the page views of one process onto one database's chain.

    Under load many requests want to append at once, and each append is a write transaction that
    holds the database's write lock. Requests queue their entry, then take turns: whoever gets the
    turn writes every entry queued so far in one transaction, and the others find theirs done. So
    a busy process commits a handful of batches instead of one transaction per view, and a view is
    still on the chain (committed) before its page leaves.

    Worker processes of one SQLite file also take turns through an `flock` on a file beside the
    database: the kernel wakes the next one the moment the lock is free, where SQLite's busy
    handler would sleep 1, 2, 5, 10 … ms between tries (the tail latency of a busy dashboard).
    PostgreSQL's advisory lock already queues its waiters.
    """

    def __init__(self, lock_file: Path | None) -> None:
        self._lock_file = lock_file
        self._queue_lock = threading.Lock()
        self._turn = threading.Lock()
        self._pending: list[_Pending] = []

    def append(self, session: Session, fields: dict[str, Any]) -> str:
        item = _Pending(fields)
        with self._queue_lock:
            self._pending.append(item)
        with self._turn:
            if not item.done:  # nobody wrote it while we waited: ours and all queued behind it
                with self._queue_lock:
                    batch, self._pending = self._pending, []
                self._write(session, batch)
        if item.error is not None:
            raise item.error  # the view was not recorded: its page must not be shown
        return item.digest

    def _write(self, session: Session, batch: list[_Pending]) -> None:
        try:
            session.connection()  # a pooled connection, before the lock: the lock is held for the writes only
            with _file_lock(self._lock_file):
                digests = _append(session, [p.fields for p in batch])
                session.commit()
        except BaseException as exc:
            session.rollback()
            for pending in batch:
                pending.error, pending.done = exc, True
            return
        for pending, digest in zip(batch, digests, strict=True):
            pending.digest, pending.done = digest, True


@contextmanager
def _file_lock(path: Path | None) -> Iterator[None]:
    if path is None:
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def lock_file_for(engine: Engine) -> Path | None:
    """The file whose `flock` orders appends of several processes on one SQLite database."""
    if engine.dialect.name != "sqlite" or not engine.url.database or engine.url.database == ":memory:":
        return None
    return Path(f"{engine.url.database}.audit-lock")


_appenders: weakref.WeakKeyDictionary[Engine, _GroupAppender] = weakref.WeakKeyDictionary()
_appenders_guard = threading.Lock()


def _appender(engine: Engine) -> _GroupAppender:
    with _appenders_guard:
        found = _appenders.get(engine)
        if found is None:
            found = _appenders[engine] = _GroupAppender(lock_file_for(engine))
        return found


def record_committed(session: Session, *, actor: str, action: str, actor_id: int | None = None,
                     object_type: str = "", object_id: str | int = "", detail: dict[str, Any] | None = None) -> str:
    """Append one entry, committed before this returns (with the caller's transaction, or after
    it); returns its hash.

    For what someone *saw* (a case page): there is nothing to commit it with, and a page view
    should hold the chain's write lock for one short batch, not for the whole request. On SQLite
    the caller's transaction ends first: a read transaction cannot become a write one once another
    process has written since it began (SQLITE_BUSY at once, the busy timeout does not apply), and
    no connection is held while waiting for the turn. PostgreSQL has no such limit, and keeping
    the transaction saves a commit and a connection check-out (two round trips) per view.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.commit()
    fields = _entry(actor=actor, action=action, actor_id=actor_id, object_type=object_type,
                    object_id=object_id, detail=detail, now=None)
    return _appender(session.get_bind()).append(session, fields)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ChainReport:
    entries: int
    ok: bool
    first_bad_id: int | None = None
    reason: str = ""


def verify_chain(session: Session, batch: int = 5000) -> ChainReport:
    """Walk the chain in id order; report the first entry that does not fit."""
    prev, count, after = GENESIS, 0, 0
    while True:
        rows = list(session.exec(select(AuditEntry).where(AuditEntry.id > after)  # type: ignore[operator]
                                 .order_by(AuditEntry.id).limit(batch)))
        if not rows:
            return ChainReport(entries=count, ok=True)
        for row in rows:
            if row.prev_hash != prev:
                return ChainReport(count, False, row.id, "prev_hash does not match the entry before it "
                                                         "(an entry was removed or inserted)")
            expected = entry_hash(prev, at=row.at, actor_id=row.actor_id, actor=row.actor, action=row.action,
                                  object_type=row.object_type, object_id=row.object_id, detail=row.detail)
            if row.hash != expected:
                return ChainReport(count, False, row.id, "hash does not match the entry's content (changed)")
            prev, count, after = row.hash, count + 1, row.id  # type: ignore[assignment]
