"""The audit log: append-only, hash-chained (`schoolwacht audit verify`).

Each entry's hash covers its own fields and the previous entry's hash, so changing, deleting
or inserting an entry anywhere breaks the chain from that point on. Appends are serialised
(PostgreSQL: a transaction-level advisory lock; SQLite: the write lock of the transaction) so
two requests can never both chain onto the same predecessor.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from datetime import datetime
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


def record(session: Session, *, actor: str, action: str, actor_id: int | None = None,
           object_type: str = "", object_id: str | int = "", detail: dict[str, Any] | None = None,
           now: datetime | None = None) -> str:
    """Append one entry in the caller's transaction (committed with the action it records);
    returns its hash. Plain statements, not ORM objects: every case view lands here."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    elif bind.dialect.name == "sqlite":
        # Take SQLite's write lock now, before reading the chain's last hash.
        session.execute(text("UPDATE lease SET name = name WHERE 0"))
    last = session.execute(select_columns(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)).scalar()  # type: ignore[union-attr]
    prev = last if last is not None else GENESIS
    at = now or utcnow()
    fields = {"at": at, "actor_id": actor_id, "actor": actor[:320], "action": action[:64],
              "object_type": object_type[:32], "object_id": str(object_id)[:64],
              "detail": json.loads(json.dumps(detail or {}, default=str))}
    digest = entry_hash(prev, **fields)
    session.execute(insert(AuditEntry).values(prev_hash=prev, hash=digest, **fields))
    return digest


# One lock per engine: the threads of one process queue here for their turn on the chain instead
# of in SQLite's busy handler, which polls with growing sleeps (seconds of tail latency under load).
_append_locks: dict[int, threading.Lock] = {}
_locks_guard = threading.Lock()


def _append_lock(engine: Engine) -> threading.Lock:
    with _locks_guard:
        return _append_locks.setdefault(id(engine), threading.Lock())


def record_committed(session: Session, *, actor: str, action: str, actor_id: int | None = None,
                     object_type: str = "", object_id: str | int = "", detail: dict[str, Any] | None = None) -> None:
    """Commit the caller's transaction, then append one entry in a short transaction of its own.

    For what someone *saw* (a case page): there is nothing to commit it with, and a page view
    should hold the chain's write lock for one INSERT, not for the whole request. The caller's
    transaction ends first, so no connection is held while waiting for the lock.
    """
    session.commit()
    with _append_lock(session.get_bind()):  # type: ignore[arg-type]
        record(session, actor=actor, action=action, actor_id=actor_id, object_type=object_type,
               object_id=object_id, detail=detail)
        session.commit()


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
