"""The retention policy (AVG: keep no longer than the school needs; DESIGN.md, flow step 6).

Posts fetched more than `retention.unflagged_days` ago are deleted with their classifications,
feedback and captures, unless they matter:

- a post in any case is kept while the case is;
- a post that any classification flagged (severity other than `none`) is kept, case or not;
- a post never classified is kept: nobody knows yet whether it matters (the classifier
  catches up first).

Cases closed or dismissed more than `retention.closed_case_days` ago (default a year) go with
their timeline and their posts, and so do cases once reported to the police after
`retention.reported_case_days` (default five years: criminal proceedings take long). A post that
also belongs to a case that is kept stays. The audit log keeps its entries (who did what, by
case number; no post text).

The work goes in batches, each its own transaction, so 100,000 posts never sit in memory.
Capture files are content-addressed (`store.files`): several capture rows may share one
file, so a file is deleted only when no capture row refers to it any more, and only after the
rows are committed: a crash between the two leaves an orphan file, never a row without its
file. A file modified in the last hour is left alone: a crawl that stores the same bytes again
reuses the file without writing it, so its new capture row may not be committed yet (this
guard works once `store_blob` touches a file it reuses).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, Select, and_, any_, delete, exists, func, literal, or_, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine
from sqlmodel import Session

from schoolwacht.errors import StorageError
from store.cases import CLOSED_STATUSES
from store.config import Settings
from store.db import make_engine, session_scope
from store.files import resolve
from store.models import Capture, Case, CaseEvent, CasePost, Classification, Feedback, Outbox, Post
from store.types import utcnow

logger = logging.getLogger(__name__)

BATCH_SIZE = 500
# Capture files younger than this are kept even when unreferenced: see the module docstring.
FILE_GRACE_SECONDS = 3600


@dataclass(frozen=True)
class RetentionReport:
    posts: int = 0
    captures: int = 0
    files: int = 0
    classifications: int = 0
    cases: int = 0


def _expired_posts(cutoff: datetime, after_id: int, limit: int) -> Select[tuple[int]]:
    # The `> after_id` bounds repeat the keyset condition inside each subquery: redundant for
    # the result, but it lets PostgreSQL start its index scans there instead of at the
    # first row on every batch.
    in_case = exists().where(CasePost.post_id == Post.id, CasePost.post_id > after_id)
    flagged = exists().where(Classification.post_id == Post.id, Classification.post_id > after_id,
                             Classification.severity != "none")
    classified = exists().where(Classification.post_id == Post.id, Classification.post_id > after_id)
    return (
        select(Post.id)
        .where(Post.fetched_at < cutoff, Post.id > after_id, ~in_case, ~flagged, classified)
        .order_by(Post.id)
        .limit(limit)
    )


def _among(column: Any, ids: list[int], dialect: str) -> Any:
    """`column IN ids`; one array parameter on PostgreSQL, which plans 500 parameters slowly."""
    if dialect == "postgresql":
        return column == any_(literal(ids, type_=postgresql.ARRAY(Integer)))
    return column.in_(ids)


def _delete_batch(session: Session, ids: list[int]) -> tuple[int, int, int, set[str]]:
    """Delete the rows of these posts; (captures, classifications, feedback, capture paths)."""
    dialect = session.get_bind().dialect.name

    def among(column: Any) -> Any:
        return _among(column, ids, dialect)

    # No ORM objects of these rows live in this session: nothing to synchronise.
    plain = {"synchronize_session": False}
    paths = set(session.execute(select(Capture.path).where(among(Capture.post_id)).distinct()).scalars())
    classification_ids = select(Classification.id).where(among(Classification.post_id))
    # Feedback on another post that points at one of these classifications keeps its verdict.
    session.execute(update(Feedback).where(Feedback.classification_id.in_(classification_ids),  # type: ignore[union-attr]
                                           ~among(Feedback.post_id))
                    .values(classification_id=None), execution_options=plain)
    feedback = session.execute(delete(Feedback).where(among(Feedback.post_id)),
                               execution_options=plain).rowcount  # type: ignore[attr-defined]
    # A mail about a post outlives the post (it was sent, or is still due); it only loses the link.
    session.execute(update(Outbox).where(among(Outbox.post_id)).values(post_id=None), execution_options=plain)
    classifications = session.execute(delete(Classification).where(among(Classification.post_id)),
                                      execution_options=plain).rowcount  # type: ignore[attr-defined]
    captures = session.execute(delete(Capture).where(among(Capture.post_id)),
                               execution_options=plain).rowcount  # type: ignore[attr-defined]
    session.execute(delete(Post).where(among(Post.id)), execution_options=plain)
    return captures, classifications, feedback, paths


def _delete_files(engine: Engine, settings: Settings, paths: set[str], *, grace_seconds: float) -> int:
    """Unlink the files no capture row refers to any more; the number deleted."""
    if not paths:
        return 0
    with session_scope(engine) as session:
        # Capture.path has no index: one scan of the capture table per batch.
        still_used = set(session.execute(
            select(Capture.path).where(Capture.path.in_(sorted(paths))).distinct()).scalars())  # type: ignore[attr-defined]
    deleted = 0
    fresh = time.time() - grace_seconds
    for relative in sorted(paths - still_used):
        try:
            path = resolve(settings.storage.dir, relative)
        except StorageError:
            logger.error("retention: capture path %r leaves the storage dir; not deleted", relative)
            continue
        try:
            if path.stat().st_mtime > fresh:
                logger.info("retention: %s was modified in the last hour; kept for now", relative)
                continue
            path.unlink()
            deleted += 1
        except FileNotFoundError:
            continue
        except OSError as exc:
            logger.error("retention: could not delete %s: %s", relative, exc)
    return deleted


def _expired_cases(settings: Settings, now: datetime, limit: int) -> Select[tuple[int]]:
    closed_before = now - timedelta(days=settings.retention.closed_case_days)
    reported_closed_before = now - timedelta(days=settings.retention.reported_case_days)
    closed_at = func.coalesce(Case.closed_at, Case.updated_at)
    return (select(Case.id)
            .where(Case.status.in_(CLOSED_STATUSES),  # type: ignore[attr-defined]
                   or_(and_(Case.reported_at.is_(None), closed_at < closed_before),  # type: ignore[union-attr]
                       and_(Case.reported_at.is_not(None), closed_at < reported_closed_before)))  # type: ignore[union-attr]
            .order_by(Case.id).limit(limit))


def _delete_cases(session: Session, case_ids: list[int]) -> tuple[list[int], tuple[int, int, int, set[str]]]:
    """Delete these cases, their timelines and the posts that no other case holds."""
    dialect = session.get_bind().dialect.name
    plain = {"synchronize_session": False}
    posts = set(session.execute(select(CasePost.post_id)
                                .where(_among(CasePost.case_id, case_ids, dialect))).scalars())
    if posts:
        shared = set(session.execute(select(CasePost.post_id).where(
            _among(CasePost.post_id, sorted(posts), dialect), ~_among(CasePost.case_id, case_ids, dialect))).scalars())
        posts -= shared
    session.execute(delete(CaseEvent).where(_among(CaseEvent.case_id, case_ids, dialect)), execution_options=plain)
    session.execute(delete(CasePost).where(_among(CasePost.case_id, case_ids, dialect)), execution_options=plain)
    session.execute(update(Outbox).where(_among(Outbox.case_id, case_ids, dialect)).values(case_id=None),
                    execution_options=plain)
    session.execute(delete(Case).where(_among(Case.id, case_ids, dialect)), execution_options=plain)
    ids = sorted(posts)
    return ids, (_delete_batch(session, ids) if ids else (0, 0, 0, set()))


def apply_retention(settings: Settings, *, now: datetime | None = None, batch_size: int = BATCH_SIZE,
                    file_grace_seconds: float = FILE_GRACE_SECONDS) -> RetentionReport:
    """Delete expired unflagged posts with their rows and unshared capture files."""
    cutoff = (now or utcnow()) - timedelta(days=settings.retention.unflagged_days)
    engine = make_engine(settings.database.url)
    posts = captures = files = classifications = feedback = cases = 0
    last_id = 0
    try:
        while True:  # cases past their term first, with the posts only they held
            with session_scope(engine) as session:
                case_ids = list(session.execute(_expired_cases(settings, now or utcnow(), batch_size)).scalars())
                if not case_ids:
                    break
                post_ids, (batch_captures, batch_classifications, batch_feedback, paths) = _delete_cases(
                    session, case_ids)
            cases += len(case_ids)
            posts += len(post_ids)
            captures += batch_captures
            classifications += batch_classifications
            feedback += batch_feedback
            files += _delete_files(engine, settings, paths, grace_seconds=file_grace_seconds)
        while True:
            with session_scope(engine) as session:
                ids = list(session.execute(_expired_posts(cutoff, last_id, batch_size)).scalars())
                if not ids:
                    break
                batch_captures, batch_classifications, batch_feedback, paths = _delete_batch(session, ids)
            # Committed: only now may the files go.
            posts += len(ids)
            captures += batch_captures
            classifications += batch_classifications
            feedback += batch_feedback
            files += _delete_files(engine, settings, paths, grace_seconds=file_grace_seconds)
            last_id = ids[-1]
    finally:
        engine.dispose()
    report = RetentionReport(posts=posts, captures=captures, files=files, classifications=classifications,
                             cases=cases)
    logger.info("retention (older than %s): deleted %d cases, %d posts, %d captures, %d files, %d classifications, "
                "%d feedback", cutoff.isoformat(timespec="seconds"), cases, posts, captures, files,
                classifications, feedback)
    return report


__all__ = ["RetentionReport", "apply_retention"]
