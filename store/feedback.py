"""Reviewers' verdicts on classifications (`Feedback`) and their export as training data.

Verdicts: `confirmed` (the model was right), `dismissed` (false alarm: nothing criminal, no
category), `corrected` (the reviewer set the labels). `schoolwacht feedback export --jsonl`
writes one JSON object a line in the format of `classifier/data` (id, platform, text,
sentiment, categories, note); when a post has several verdicts the latest one wins.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlmodel import Session

from classifier.labels import CATEGORIES, SENTIMENTS
from store import audit
from store.models import Classification, Feedback, Post, User

VERDICTS = ("confirmed", "dismissed", "corrected")
NOTE_LIMIT = 2000
_ZONE = ZoneInfo("Europe/Amsterdam")
_BATCH = 500


def add_feedback(session: Session, *, post_id: int, classification: Classification | None, user_id: int | None,
                 verdict: str, sentiment: str | None = None, categories: list[str] | None = None,
                 note: str = "") -> Feedback:
    """Store one verdict. `confirmed` and `dismissed` take their labels from `classification`
    (dismissed: its sentiment, no categories); `corrected` needs `sentiment` and `categories`."""
    if verdict not in VERDICTS:
        raise ValueError(f"unknown verdict {verdict!r}")
    if verdict == "corrected":
        if sentiment not in SENTIMENTS:
            raise ValueError(f"unknown sentiment {sentiment!r}")
        unknown = set(categories or []) - set(CATEGORIES)
        if unknown:
            raise ValueError(f"unknown categories {sorted(unknown)}")
        labels = [c for c in CATEGORIES if c in set(categories or [])]
    elif classification is not None:
        sentiment = classification.sentiment
        labels = list(classification.categories) if verdict == "confirmed" else []
    else:
        labels = []
    row = Feedback(post_id=post_id, classification_id=classification.id if classification else None,
                   user_id=user_id, verdict=verdict, sentiment=sentiment, categories=labels,
                   note=note.strip()[:NOTE_LIMIT])
    session.add(row)
    session.flush()
    return row


def _latest_ids(session: Session) -> list[int]:
    statement = select(func.max(Feedback.id)).group_by(Feedback.post_id)
    return sorted(int(i) for i in session.execute(statement).scalars() if i is not None)


def _labels(feedback: Feedback, classification: Classification | None) -> tuple[str, list[str]]:
    if feedback.verdict == "corrected" or classification is None:
        return feedback.sentiment or "neutral", list(feedback.categories)
    if feedback.verdict == "confirmed":
        return classification.sentiment, list(classification.categories)
    return classification.sentiment, []  # dismissed: the post's tone stands, the categories do not


def training_rows(session: Session) -> Iterator[dict[str, Any]]:
    """The latest verdict of every post as a training example, oldest verdict first."""
    ids = _latest_ids(session)
    for start in range(0, len(ids), _BATCH):
        chunk = ids[start:start + _BATCH]
        rows = session.execute(
            select(Feedback, Post, Classification, User.role)
            .join(Post, Post.id == Feedback.post_id)
            .outerjoin(Classification, Classification.id == Feedback.classification_id)
            .outerjoin(User, User.id == Feedback.user_id)
            .where(Feedback.id.in_(chunk))  # type: ignore[union-attr]
            .order_by(Feedback.id)
        ).all()
        for feedback, post, classification, role in rows:
            sentiment, categories = _labels(feedback, classification)
            day = feedback.created_at.astimezone(_ZONE).date().isoformat()
            yield {"id": f"feedback-{feedback.id}", "platform": post.platform, "text": post.text,
                   "sentiment": sentiment, "categories": categories,
                   "note": f"{feedback.verdict} by {role or 'unknown'} on {day}"}


def export_jsonl(session: Session, out: TextIO, *, actor: str = "cli", actor_id: int | None = None,
                 target: str = "-") -> int:
    """Write the training rows to `out` (JSON Lines) and record the export in the audit log."""
    count = 0
    for row in training_rows(session):
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        count += 1
    audit.record(session, actor=actor, actor_id=actor_id, action="feedback_export", object_type="feedback",
                 detail={"rows": count, "format": "jsonl", "target": target})
    return count


__all__ = ["VERDICTS", "add_feedback", "export_jsonl", "training_rows"]
