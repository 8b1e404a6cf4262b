"""Cases (protocol rule 4): opened for posts with severity >= negative, joined by thread."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select
from sqlmodel import Session

from classifier.labels import ARTICLES, COMPLAINT_OFFENCES, SEVERITIES
from store.models import Case, CaseEvent, CasePost, Classification, Post
from store.types import utcnow

SEVERITY_ORDER = SEVERITIES
CLOSED_STATUSES = ("closed", "dismissed")
ARTICLE_OF = ARTICLES


def thread_key(post: Post) -> str | None:
    """Later posts by the same author on the same platform join the same open case."""
    if not post.author_handle:
        return None
    return f"{post.school_id}:{post.platform}:{post.author_handle.lower()}"


def complaint_deadline(learned_at: datetime, categories: list[str]) -> datetime | None:
    if not set(categories) & set(COMPLAINT_OFFENCES):
        return None
    return learned_at + relativedelta(months=3)


def _higher(a: str, b: str) -> str:
    return a if SEVERITY_ORDER.index(a) >= SEVERITY_ORDER.index(b) else b


def open_or_join_case(session: Session, *, post: Post, classification: Classification) -> Case | None:
    """The case this post belongs to (opened or joined), or None below severity negative."""
    if SEVERITY_ORDER.index(classification.severity) < SEVERITY_ORDER.index("negative"):
        return None
    existing = session.execute(
        select(CasePost).where(CasePost.post_id == post.id)).scalars().first()
    if existing is not None:
        return session.get(Case, existing.case_id)
    key = thread_key(post)
    case = None
    if key is not None:
        case = session.execute(
            select(Case).where(Case.thread_key == key, Case.status.notin_(CLOSED_STATUSES))  # type: ignore[attr-defined]
            .order_by(Case.id.desc())
        ).scalars().first()
    now = utcnow()
    categories = list(classification.categories)
    if case is None:
        learned = post.fetched_at or now
        case = Case(school_id=post.school_id, status="new", severity=classification.severity,
                    opened_at=now, updated_at=now, learned_at=learned, thread_key=key,
                    categories=categories, articles=[ARTICLE_OF[c] for c in categories],
                    deadline=complaint_deadline(learned, categories))
        session.add(case)
        session.flush()
        session.add(CaseEvent(case_id=case.id, action="opened",  # type: ignore[arg-type]
                              note=f"Geopend door classificatie ({classification.severity})",
                              data={"post_id": post.id}))
    else:
        merged = sorted(set(case.categories) | set(categories))
        case.categories = merged
        case.articles = [ARTICLE_OF[c] for c in merged]
        case.severity = _higher(case.severity, classification.severity)
        case.deadline = case.deadline or complaint_deadline(case.learned_at, merged)
        case.updated_at = now
        session.add(case)
        session.add(CaseEvent(case_id=case.id, action="post_added",  # type: ignore[arg-type]
                              note="Nieuw bericht van dezelfde auteur", data={"post_id": post.id}))
    session.add(CasePost(case_id=case.id, post_id=post.id))  # type: ignore[arg-type]
    session.flush()
    return case


@dataclass(frozen=True)
class CaseSummary:
    id: int
    school_id: int
    status: str
    severity: str
    categories: list[str]
    posts: list[int]
    opened_at: datetime
    deadline: datetime | None


def list_cases(session: Session) -> list[CaseSummary]:
    links: dict[int, list[int]] = {}
    for case_id, post_id in session.execute(select(CasePost.case_id, CasePost.post_id)
                                            .order_by(CasePost.post_id)):
        links.setdefault(case_id, []).append(post_id)
    cases = session.execute(select(Case).order_by(Case.id)).scalars()
    return [CaseSummary(id=c.id, school_id=c.school_id, status=c.status, severity=c.severity,  # type: ignore[arg-type]
                        categories=list(c.categories), posts=links.get(c.id, []),  # type: ignore[arg-type]
                        opened_at=c.opened_at, deadline=c.deadline) for c in cases]


def count_cases(session: Session) -> int:
    return int(session.execute(select(func.count()).select_from(Case)).scalar_one())


__all__ = ["ARTICLE_OF", "CaseSummary", "complaint_deadline", "list_cases", "open_or_join_case",
           "thread_key"]
