"""Queries of the review queue (issue 5, point 3): flagged posts that nobody has judged yet.

A post is *flagged* when its latest classification has severity urgent, criminal or negative.
It leaves the queue as soon as it has a `Feedback` row (any verdict). The queue is ordered by
severity (urgent first), then newest post first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, exists, func, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from classifier.labels import severity_for
from store.models import Case, CaseEvent, CasePost, Classification, Feedback, Post, School
from store.types import utcnow

FLAGGED = ("urgent", "criminal", "negative")
PAGE_SIZE = 50
# Case statuses a false alarm may still close: nobody has acted on the case yet.
DISMISSABLE = ("new", "triaged")
DISMISS_NOTE = "Vals alarm (beoordeling)"

_rank = case({"urgent": 0, "criminal": 1, "negative": 2}, value=Classification.severity, else_=3)


@dataclass(frozen=True)
class QueueItem:
    post: Post
    classification: Classification
    case_id: int | None
    case_status: str | None


@dataclass(frozen=True)
class QueuePage:
    items: list[QueueItem]
    total: int
    page: int
    pages: int


def _latest_flagged(school_id: int | None, severity: str | None) -> list[object]:
    """Conditions: the row is the post's latest classification, flagged, without feedback."""
    newer = aliased(Classification)
    conditions: list[object] = [
        Classification.severity.in_([severity] if severity else FLAGGED),  # type: ignore[attr-defined]
        ~exists().where(newer.post_id == Classification.post_id, newer.id > Classification.id),
        ~exists().where(Feedback.post_id == Classification.post_id),
    ]
    if school_id is not None:
        conditions.append(Post.school_id == school_id)
    return conditions


def review_queue(session: Session, *, school_id: int | None = None, severity: str | None = None,
                 page: int = 1, per_page: int = PAGE_SIZE) -> QueuePage:
    """One page of the queue; `severity` must be one of FLAGGED (or None for all of them)."""
    if severity is not None and severity not in FLAGGED:
        raise ValueError(f"not a flagged severity: {severity!r}")
    conditions = _latest_flagged(school_id, severity)
    # One pass: narrow rows (ids and sort keys) sorted, with the total alongside (a window count);
    # the page's posts and classifications are loaded afterwards.
    ordered = (select(Post.id, Classification.id, func.count().over())
               .join(Classification, Classification.post_id == Post.id)
               .where(and_(*conditions))  # type: ignore[arg-type]
               .order_by(_rank, Post.created_at.desc(), Post.id.desc()))  # type: ignore[attr-defined,union-attr]
    page = max(1, page)
    chosen = session.execute(ordered.offset((page - 1) * per_page).limit(per_page)).all()
    if chosen:
        total = int(chosen[0][2])
    else:
        counted = select(func.count()).select_from(Classification)
        if school_id is not None:
            counted = counted.join(Post, Post.id == Classification.post_id)
        total = int(session.execute(counted.where(and_(*conditions))).scalar_one())  # type: ignore[arg-type]
    pages = max(1, -(-total // per_page))
    if page > pages:  # past the end: show the last page
        page = pages
        chosen = session.execute(ordered.offset((page - 1) * per_page).limit(per_page)).all()
    posts = {p.id: p for p in session.execute(
        select(Post).where(Post.id.in_([r[0] for r in chosen]))).scalars()}  # type: ignore[union-attr]
    found = {c.id: c for c in session.execute(
        select(Classification).where(Classification.id.in_([r[1] for r in chosen]))).scalars()}  # type: ignore[union-attr]
    rows = [(posts[post_id], found[classification_id]) for post_id, classification_id, _ in chosen]
    cases = cases_of(session, [int(post.id) for post, _ in rows])  # type: ignore[arg-type]
    items = [QueueItem(post=post, classification=classification,
                       case_id=cases.get(int(post.id), (None, None))[0],  # type: ignore[arg-type]
                       case_status=cases.get(int(post.id), (None, None))[1])  # type: ignore[arg-type]
             for post, classification in rows]
    return QueuePage(items=items, total=total, page=page, pages=pages)


def cases_of(session: Session, post_ids: list[int]) -> dict[int, tuple[int, str]]:
    """post id -> (case id, status) of the case it belongs to (the oldest, should there be several)."""
    if not post_ids:
        return {}
    found: dict[int, tuple[int, str]] = {}
    rows = session.execute(select(CasePost.post_id, Case.id, Case.status).join(Case, Case.id == CasePost.case_id)
                           .where(CasePost.post_id.in_(post_ids))  # type: ignore[attr-defined]
                           .order_by(Case.id))
    for post_id, case_id, status in rows:
        found.setdefault(post_id, (case_id, status))
    return found


_SCHOOLS = select(School).order_by(School.name)  # built once: it runs on every queue page


def schools(session: Session) -> list[School]:
    """The schools to filter on, by name."""
    return list(session.execute(_SCHOOLS).scalars())


def post_for_review(session: Session, post_id: int) -> tuple[Post, Classification] | None:
    """The post and its latest classification, or None when either is missing."""
    post = session.get(Post, post_id)
    if post is None:
        return None
    latest = session.execute(select(Classification).where(Classification.post_id == post_id)
                             .order_by(Classification.id.desc()).limit(1)).scalars().first()  # type: ignore[union-attr]
    return (post, latest) if latest is not None else None


def case_of_post(session: Session, post_id: int) -> Case | None:
    link = session.execute(select(CasePost).where(CasePost.post_id == post_id)
                           .order_by(CasePost.case_id)).scalars().first()
    return session.get(Case, link.case_id) if link is not None else None


def effective_severity(session: Session, post_id: int) -> str:
    """What a post counts as now: the latest verdict overrides the model (dismissed = none)."""
    verdict = session.execute(select(Feedback).where(Feedback.post_id == post_id)
                              .order_by(Feedback.id.desc()).limit(1)).scalars().first()  # type: ignore[union-attr]
    latest = session.execute(select(Classification.severity).where(Classification.post_id == post_id)
                             .order_by(Classification.id.desc()).limit(1)).scalar()  # type: ignore[union-attr]
    if verdict is not None and verdict.verdict == "dismissed":
        return "none"
    if verdict is not None and verdict.verdict == "corrected":
        return severity_for(verdict.sentiment or "neutral", verdict.categories)
    return str(latest) if latest else "none"


def dismiss_lone_case(session: Session, *, post_id: int, actor: str, actor_id: int | None,
                      now: datetime | None = None) -> Case | None:
    """After a false alarm on `post_id`: close its case as `dismissed` when no other post of the
    case is still flagged and nobody has acted on the case yet. Returns the closed case, or None.
    Call after the dismissing Feedback row has been added."""
    found = case_of_post(session, post_id)
    if found is None or found.status not in DISMISSABLE:
        return None
    others = session.execute(select(CasePost.post_id).where(CasePost.case_id == found.id,
                                                            CasePost.post_id != post_id)).scalars().all()
    if any(effective_severity(session, other) in FLAGGED for other in others):
        return None
    moment = now or utcnow()
    previous = found.status
    found.status, found.closed_at, found.updated_at = "dismissed", moment, moment
    session.add(found)
    session.add(CaseEvent(case_id=found.id, at=moment, actor_id=actor_id, actor=actor[:320],  # type: ignore[arg-type]
                          action="status", note=DISMISS_NOTE,
                          data={"from": previous, "to": "dismissed", "post_id": post_id}))
    session.flush()
    return found


__all__ = ["DISMISS_NOTE", "FLAGGED", "PAGE_SIZE", "QueueItem", "QueuePage", "case_of_post", "cases_of",
           "dismiss_lone_case", "effective_severity", "post_for_review", "review_queue", "schools"]
