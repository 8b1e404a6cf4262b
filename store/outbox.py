"""The e-mail outbox: every mail is a row first, sent later by `alerts.outbox.flush`.

A mail server that is down delays mail and loses none; the unique `dedup_key` makes queueing
idempotent, so a post is alerted once per recipient whatever restarts happen.

`Outbox.last_error` starts with the UTC time of the error in brackets
(`[2026-11-23T13:05:00Z] ...`), because the table has no column of its own for it;
`split_error` takes it apart again.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from store.models import Lease, Outbox
from store.types import utcnow

_OUTBOX: Table = Outbox.__table__  # type: ignore[attr-defined]
# Lease taken by the process that sends the outbox (alerts.outbox.flush).
OUTBOX_LEASE = "job:outbox"
_HEADER_UNSAFE = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]+")
_ERROR_TIME = re.compile(r"^\[(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})Z\] ")


def header_safe(value: str, *, limit: int = 998) -> str:
    """One line without control characters: newlines can never start a new header."""
    return " ".join(_HEADER_UNSAFE.sub(" ", value).split())[:limit]


def inline_image(cid: str, data: bytes, *, content_type: str = "image/png",
                 filename: str | None = None) -> dict[str, Any]:
    """An attachment for `enqueue`: shown in the HTML part as `<img src="cid:{cid}">`."""
    return {"cid": cid, "content_type": content_type, "filename": filename,
            "data": base64.b64encode(data).decode("ascii")}


def _attachment(item: Mapping[str, Any]) -> dict[str, Any]:
    if "cid" not in item or not str(item["cid"]).strip():
        raise ValueError("an outbox attachment needs a `cid`")
    raw = item.get("data")
    if isinstance(raw, bytes | bytearray):
        data = base64.b64encode(bytes(raw)).decode("ascii")
    elif isinstance(raw, str):
        base64.b64decode(raw, validate=True)  # fail now, not when the mail is sent
        data = raw
    else:
        raise ValueError("an outbox attachment needs `data` (bytes or base64 text)")
    content_type = str(item.get("content_type") or "application/octet-stream")
    if content_type.count("/") != 1:
        raise ValueError(f"not a MIME type: {content_type!r}")
    return {"cid": header_safe(str(item["cid"])).strip("<>"), "content_type": content_type,
            "filename": header_safe(str(item["filename"])) if item.get("filename") else None,
            "data": data}


def enqueue(session: Session, *, dedup_key: str, kind: str, recipient: str, subject: str,
            body_text: str, body_html: str, attachments: Iterable[Mapping[str, Any]] = (),
            post_id: int | None = None, case_id: int | None = None,
            now: datetime | None = None) -> bool:
    """Queue one mail unless a mail with `dedup_key` was queued before; True when added.

    `attachments` are inline parts: dicts with `cid`, `content_type`, `data` (bytes or base64)
    and optionally `filename` (see `inline_image`).
    """
    now = now or utcnow()
    row = {
        "dedup_key": dedup_key,
        "kind": kind,
        "recipient": header_safe(recipient, limit=320),
        "subject": header_safe(subject),
        "body_text": body_text,
        "body_html": body_html,
        "created_at": now,
        "attempts": 0,
        "next_attempt_at": now,
        "attachments": [_attachment(a) for a in attachments],
        "post_id": post_id,
        "case_id": case_id,
    }
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = (insert(_OUTBOX).values(row)
                 .on_conflict_do_nothing(index_elements=["dedup_key"])
                 .returning(_OUTBOX.c.id))
    return session.execute(statement).first() is not None


def due(session: Session, now: datetime, limit: int) -> list[Outbox]:
    """Mails to send now: neither sent nor failed, next attempt reached; oldest first."""
    return list(session.execute(
        select(Outbox)
        .where(Outbox.sent_at.is_(None), Outbox.failed_at.is_(None),  # type: ignore[union-attr]
               Outbox.next_attempt_at <= now)
        .order_by(Outbox.next_attempt_at, Outbox.id)
        .limit(limit)
    ).scalars())


def _stamp(error: str, now: datetime) -> str:
    return f"[{now.astimezone(UTC):%Y-%m-%dT%H:%M:%S}Z] {error}"[:4000]


def split_error(last_error: str | None) -> tuple[datetime | None, str | None]:
    """`Outbox.last_error` as (time of the error, message)."""
    if not last_error:
        return None, None
    match = _ERROR_TIME.match(last_error)
    if not match:
        return None, last_error
    at = datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC)
    return at, last_error[match.end():]


def _pending(outbox_id: int) -> Any:
    return (update(Outbox)
            .where(Outbox.id == outbox_id, Outbox.sent_at.is_(None),  # type: ignore[union-attr]
                   Outbox.failed_at.is_(None)))  # type: ignore[union-attr]


def mark_sent(session: Session, outbox_id: int, *, now: datetime | None = None) -> bool:
    """Record a successful send; False when the row was already sent or failed."""
    now = now or utcnow()
    result = session.execute(_pending(outbox_id).values(sent_at=now, attempts=Outbox.attempts + 1))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def mark_retry(session: Session, outbox_id: int, *, error: str, next_attempt_at: datetime,
               now: datetime | None = None) -> None:
    """Count a failed attempt and schedule the next one."""
    now = now or utcnow()
    session.execute(_pending(outbox_id).values(attempts=Outbox.attempts + 1, next_attempt_at=next_attempt_at,
                                               last_error=_stamp(error, now)))


def mark_failed(session: Session, outbox_id: int, *, error: str, now: datetime | None = None) -> None:
    """Give up on a mail: it stays in the table, visible, with the reason."""
    now = now or utcnow()
    session.execute(_pending(outbox_id).values(attempts=Outbox.attempts + 1, failed_at=now,
                                               last_error=_stamp(error, now)))


def status(session: Session) -> dict[str, Any]:
    """Counts and the latest problem: pending, sent, failed, oldest_pending_at, last_error,
    last_error_at, last_flush_at (when a flush last finished)."""
    pending_filter = (Outbox.sent_at.is_(None), Outbox.failed_at.is_(None))  # type: ignore[union-attr]
    pending, oldest = session.execute(
        select(func.count(), func.min(Outbox.created_at)).where(*pending_filter)).one()
    sent = session.execute(select(func.count()).where(Outbox.sent_at.is_not(None))).scalar_one()  # type: ignore[union-attr]
    failed = session.execute(select(func.count()).where(Outbox.failed_at.is_not(None))).scalar_one()  # type: ignore[union-attr]
    # The newest error: `last_error` starts with its UTC time, so it sorts by time as text.
    newest = session.execute(
        select(Outbox.last_error).where(Outbox.last_error.is_not(None))  # type: ignore[union-attr]
        .order_by(Outbox.last_error.desc()).limit(1)  # type: ignore[union-attr]
    ).scalar_one_or_none()
    last_at, last_error = split_error(newest)
    lease = session.get(Lease, OUTBOX_LEASE)
    if isinstance(oldest, str):
        oldest = datetime.fromisoformat(oldest)
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return {
        "pending": int(pending),
        "sent": int(sent),
        "failed": int(failed),
        "oldest_pending_at": oldest,
        "last_error": last_error,
        "last_error_at": last_at,
        "last_flush_at": lease.last_finished_at if lease is not None else None,
    }


__all__ = ["OUTBOX_LEASE", "due", "enqueue", "header_safe", "inline_image", "mark_failed",
           "mark_retry", "mark_sent", "split_error", "status"]
