"""Queries of the evidence package (`evidence/`): flagged posts that still need an image, their
image captures, the cases of a post, and the capture events of a case."""

from __future__ import annotations

from sqlalchemy import exists, func, select
from sqlmodel import Session

from store.models import Capture, Case, CaseEvent, CasePost, Classification, Post

# Severities for which the school may go to the police: these posts get a screenshot.
FLAGGED = ("criminal", "urgent")
# Capture kinds that are an image of the post: a real screenshot (Chromium, or uploaded with a
# manual report) or Schoolwacht's own rendering of the stored data.
IMAGE_KINDS = ("screenshot", "rendering")


def _latest_classification_id() -> object:
    return (select(func.max(Classification.id)).where(Classification.post_id == Post.id)
            .correlate(Post).scalar_subquery())


def posts_needing_image(session: Session, *, limit: int) -> list[int]:
    """Flagged posts (latest classification criminal or urgent) in a case that is not a false
    alarm, without any image capture yet; oldest first."""
    has_image = exists().where(Capture.post_id == Post.id, Capture.kind.in_(IMAGE_KINDS))  # type: ignore[attr-defined]
    in_live_case = (exists().where(CasePost.post_id == Post.id, Case.id == CasePost.case_id,
                                   Case.status != "dismissed"))
    statement = (select(Post.id)
                 .join(Classification, Classification.id == _latest_classification_id())
                 .where(Classification.severity.in_(FLAGGED), ~has_image, in_live_case)  # type: ignore[attr-defined]
                 .order_by(Post.id).limit(limit))
    return [int(row) for row in session.execute(statement).scalars()]


def image_captures(session: Session, *, post_id: int) -> list[Capture]:
    statement = (select(Capture).where(Capture.post_id == post_id, Capture.kind.in_(IMAGE_KINDS))  # type: ignore[attr-defined]
                 .order_by(Capture.id))
    return list(session.execute(statement).scalars())


def cases_of_post(session: Session, *, post_id: int) -> list[int]:
    statement = select(CasePost.case_id).where(CasePost.post_id == post_id).order_by(CasePost.case_id)
    return [int(row) for row in session.execute(statement).scalars()]


def capture_events(session: Session, *, case_id: int) -> list[CaseEvent]:
    """The `evidence_capture` events of a case: how each image of a post came about."""
    statement = (select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.action == "evidence_capture")
                 .order_by(CaseEvent.id))
    return list(session.execute(statement).scalars())


__all__ = ["FLAGGED", "IMAGE_KINDS", "capture_events", "cases_of_post", "image_captures", "posts_needing_image"]
