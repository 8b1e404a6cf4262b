"""Classifications: pending posts, storing results (append-only), latest per post."""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, select
from sqlmodel import Session

from store.models import Classification, Post


def pending_posts(session: Session, *, limit: int, after_id: int = 0) -> list[Post]:
    """Posts that no model has classified yet, oldest first."""
    unclassified = ~exists().where(Classification.post_id == Post.id)
    statement = (select(Post).where(unclassified, Post.id > after_id)
                 .order_by(Post.id).limit(limit))
    return list(session.execute(statement).scalars())


def add_classification(session: Session, *, post_id: int, model: str, version: str,
                       language: str | None, sentiment: str, sentiment_score: float,
                       scores: dict[str, float], categories: list[str],
                       explanations: dict[str, Any], severity: str) -> Classification:
    """A new row: classifying again (a new model) never rewrites history."""
    row = Classification(post_id=post_id, model=model, version=version, language=language,
                         sentiment=sentiment, sentiment_score=sentiment_score, scores=scores,
                         categories=categories, explanations=explanations, severity=severity)
    session.add(row)
    session.flush()
    return row


def latest_classification(session: Session, *, post_id: int) -> Classification | None:
    statement = (select(Classification).where(Classification.post_id == post_id)
                 .order_by(Classification.id.desc()).limit(1))  # type: ignore[union-attr]
    return session.execute(statement).scalars().first()
