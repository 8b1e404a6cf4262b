"""Queries behind the dashboard's overview, sources and admin pages (issue 5).

Everything here is an aggregate query or a bounded list, so the overview stays fast with
100,000 posts and thousands of cases: counts come from GROUP BY over the `post(school_id,
created_at)` and `case(school_id, status)` indexes, the latest classification of a post is one
indexed lookup (`classification.post_id`), and lists are capped with LIMIT.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, case, delete, exists, func, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from classifier.labels import SEVERITIES
from schoolwacht.errors import NotFoundError
from store.cases import CLOSED_STATUSES
from store.models import (
    AuditEntry,
    Case,
    CaseEvent,
    CasePost,
    Classification,
    Feedback,
    Post,
    School,
    Source,
    User,
    WebSession,
)
from store.types import utcnow

FLAGGED_SEVERITIES = tuple(s for s in SEVERITIES if s != "none")
SENTIMENT_KEYS = ("negative", "neutral", "positive", "unrated")
# A case in one of these statuses waits for the school; "reported" waits for the police.
WAITING_ON_SCHOOL = ("new", "triaged", "addressed", "removal_requested", "removed", "corrected")
STALE_AFTER = timedelta(days=7)
DEADLINE_WARNING = timedelta(days=14)
LIST_LIMIT = 20
# `Source.state` key holding a switch made on the dashboard (see `set_source_enabled`).
DASHBOARD_SWITCH = "dashboard:enabled"


# -- mentions per week --------------------------------------------------------------------------
@dataclass
class WeekCount:
    """Posts created in one week for one school: in total, flagged, and by latest sentiment."""

    total: int = 0
    flagged: int = 0
    by_sentiment: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SENTIMENT_KEYS, 0))


def _is_latest_classification() -> Any:
    """No newer classification of the same post exists (an anti-join on `classification.post_id`).

    Not `max(id)` in a subquery: PostgreSQL turns that into a backward scan of the primary key
    filtered by post, which reads the whole table for every post when its statistics are young.
    """
    newer = aliased(Classification)
    return ~exists().where(newer.post_id == Classification.post_id, newer.id > Classification.id)


def weekly_counts(session: Session, *, school_ids: Sequence[int],
                  boundaries: Sequence[datetime]) -> dict[int, list[WeekCount]]:
    """Per school, one `WeekCount` per interval [boundaries[i], boundaries[i+1]).

    One query: the week of each post is a CASE over the boundaries, grouped in the database
    (the inner select is a subquery so PostgreSQL groups by a column, not a parameterised
    expression).
    """
    weeks = len(boundaries) - 1
    result = {school_id: [WeekCount() for _ in range(weeks)] for school_id in school_ids}
    if not school_ids or weeks < 1:
        return result
    bucket = case(*[(Post.created_at < boundaries[i + 1], i) for i in range(weeks)], else_=weeks)
    flagged = case((Classification.severity.in_(FLAGGED_SEVERITIES), 1), else_=0)  # type: ignore[attr-defined]
    inner = (
        select(Post.school_id.label("school_id"), bucket.label("bucket"),  # type: ignore[attr-defined]
               Classification.sentiment.label("sentiment"), flagged.label("flagged"))
        .select_from(Post)
        .outerjoin(Classification, and_(Classification.post_id == Post.id, _is_latest_classification()))
        .where(Post.school_id.in_(list(school_ids)),  # type: ignore[attr-defined]
               Post.created_at >= boundaries[0], Post.created_at < boundaries[-1])
        .subquery()
    )
    statement = (select(inner.c.school_id, inner.c.bucket, inner.c.sentiment,
                        func.count(), func.coalesce(func.sum(inner.c.flagged), 0))
                 .group_by(inner.c.school_id, inner.c.bucket, inner.c.sentiment))
    for school_id, index, sentiment, count, flagged_count in session.execute(statement):
        if school_id not in result or not 0 <= index < weeks:
            continue
        cell = result[school_id][index]
        key = sentiment if sentiment in SENTIMENT_KEYS else "unrated"
        cell.total += int(count)
        cell.flagged += int(flagged_count)
        cell.by_sentiment[key] += int(count)
    return result


# -- data version -------------------------------------------------------------------------------
_VERSIONED = (Post, Classification, Feedback, Case, CaseEvent, School)


# Built once: it runs on every overview and review page, and building it costs more than running it.
_DATA_VERSION = select(*[select(func.max(model.id)).scalar_subquery() for model in _VERSIONED])  # type: ignore[attr-defined]


def data_version(session: Session) -> tuple[int, ...]:
    """The highest id of each table the overview and the review queue read: one cheap query
    (each `max(id)` is one look at a primary key's end) whose result changes with every new
    post, classification, verdict, case and case event (every change to a case adds an event).
    For `dashboard.cache.VersionedCache`; deletions do not move it."""
    row = session.connection().execute(_DATA_VERSION).one()  # plain columns: no ORM layer
    return tuple(int(value or 0) for value in row)


# -- cases --------------------------------------------------------------------------------------
def school_ids_by_name(session: Session) -> dict[str, int]:
    return {name: int(school_id) for school_id, name in session.execute(select(School.id, School.name))}


def _visible(statement: Any, assignee_id: int | None) -> Any:
    return statement if assignee_id is None else statement.where(Case.assignee_id == assignee_id)


def open_cases_by_status(session: Session, *, assignee_id: int | None = None) -> dict[int, dict[str, int]]:
    """school_id -> status -> number of open cases (only `assignee_id`'s cases when given)."""
    statement = _visible(select(Case.school_id, Case.status, func.count())
                         .where(Case.status.notin_(CLOSED_STATUSES))  # type: ignore[attr-defined]
                         .group_by(Case.school_id, Case.status), assignee_id)
    counts: dict[int, dict[str, int]] = {}
    for school_id, status, count in session.execute(statement):
        counts.setdefault(int(school_id), {})[status] = int(count)
    return counts


@dataclass(frozen=True)
class DueCase:
    id: int
    school_id: int
    status: str
    severity: str
    updated_at: datetime
    deadline: datetime | None


def _due(rows: Any) -> list[DueCase]:
    return [DueCase(id=r.id, school_id=r.school_id, status=r.status, severity=r.severity,
                    updated_at=r.updated_at, deadline=r.deadline) for r in rows]


def _columns() -> Any:
    return select(Case.id, Case.school_id, Case.status, Case.severity, Case.updated_at, Case.deadline)


def stale_cases(session: Session, *, now: datetime | None = None, assignee_id: int | None = None,
                limit: int = LIST_LIMIT) -> tuple[list[DueCase], int]:
    """Cases waiting on the school that nobody touched for `STALE_AFTER`: (oldest first, total)."""
    cutoff = (now or utcnow()) - STALE_AFTER
    where = and_(Case.status.in_(WAITING_ON_SCHOOL), Case.updated_at < cutoff)  # type: ignore[attr-defined]
    total = session.execute(_visible(select(func.count()).select_from(Case).where(where), assignee_id)).scalar_one()
    rows = session.execute(_visible(_columns().where(where), assignee_id)
                           .order_by(Case.updated_at, Case.id).limit(limit))
    return _due(rows), int(total)


def complaint_deadlines_due(session: Session, *, now: datetime | None = None, assignee_id: int | None = None,
                            limit: int = LIST_LIMIT) -> tuple[list[DueCase], int]:
    """Open cases whose complaint period ends within `DEADLINE_WARNING` (or has ended) and that
    were not reported to the police: (soonest first, total)."""
    horizon = (now or utcnow()) + DEADLINE_WARNING
    where = and_(Case.status.in_(WAITING_ON_SCHOOL), Case.deadline.is_not(None),  # type: ignore[attr-defined,union-attr]
                 Case.deadline < horizon)
    total = session.execute(_visible(select(func.count()).select_from(Case).where(where), assignee_id)).scalar_one()
    rows = session.execute(_visible(_columns().where(where), assignee_id)
                           .order_by(Case.deadline, Case.id).limit(limit))
    return _due(rows), int(total)


def post_case_id(session: Session, *, post_id: int) -> tuple[int, int | None] | None:
    """(case id, assignee id) of the case a post belongs to, if any."""
    row = session.execute(select(Case.id, Case.assignee_id).join(CasePost, CasePost.case_id == Case.id)
                          .where(CasePost.post_id == post_id).order_by(Case.id).limit(1)).first()
    return (int(row[0]), row[1]) if row is not None else None


def latest_severity(session: Session, *, post_id: int) -> str | None:
    return session.execute(select(Classification.severity)
                           .where(Classification.post_id == post_id, _is_latest_classification())).scalar()


# -- sources ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SourceError:
    name: str
    kind: str
    school: str
    enabled: bool
    error: str
    at: datetime | None


_SOURCE_ERRORS = (
    select(Source.name, Source.kind, School.name, Source.enabled, Source.last_error, Source.last_error_at)
    .join(School, School.id == Source.school_id)
    .where(Source.last_error.is_not(None))  # type: ignore[union-attr]
    .order_by(Source.enabled.desc(), Source.name).limit(bindparam("limit")))  # type: ignore[attr-defined]


def sources_with_errors(session: Session, limit: int = LIST_LIMIT) -> list[SourceError]:
    """Sources whose last crawl failed (no post counts: this is on every overview)."""
    rows = session.connection().execute(_SOURCE_ERRORS, {"limit": limit})  # plain columns: no ORM layer
    return [SourceError(name=r[0], kind=r[1], school=r[2], enabled=bool(r[3]), error=r[4] or "", at=r[5])
            for r in rows]


def find_source(session: Session, name: str) -> Source:
    source = session.execute(select(Source).where(Source.name == name)).scalars().first()
    if source is None:
        raise NotFoundError(f"unknown source {name!r}")
    return source


def set_source_enabled(session: Session, *, name: str, enabled: bool, config_enabled: bool | None,
                       actor: str = "") -> Source:
    """Switch a source on or off from the dashboard.

    `Source.enabled` changes at once; the switch is also kept in `Source.state` under
    `DASHBOARD_SWITCH` together with the config's `enabled` at that moment, so a config sync
    can keep the dashboard's choice until someone changes `enabled` in the config file (then
    the newer decision, the config's, wins). See `dashboard_switch`.
    """
    source = find_source(session, name)
    source.enabled = enabled
    switch = {"enabled": enabled, "config_enabled": config_enabled, "by": actor, "at": utcnow().isoformat()}
    source.state = {**source.state, DASHBOARD_SWITCH: switch}
    session.add(source)
    session.flush()
    return source


def dashboard_switch(source: Source, config_enabled: bool) -> bool | None:
    """The dashboard's choice for this source if it still applies, else None (the config decides).

    It applies while the config's `enabled` is what it was when the switch was made.
    """
    switch = source.state.get(DASHBOARD_SWITCH)
    if not isinstance(switch, dict) or switch.get("config_enabled") != config_enabled:
        return None
    return bool(switch.get("enabled"))


def effective_enabled(source: Source, config_enabled: bool) -> bool:
    """For the config sync: the dashboard's switch while it applies, else the config's `enabled`.

    A switch that no longer applies (the config's `enabled` changed since) is removed, so that
    changing the config back later does not bring an old dashboard choice back to life.
    """
    switch = dashboard_switch(source, config_enabled)
    if switch is not None:
        return switch
    if DASHBOARD_SWITCH in source.state:
        source.state = {k: v for k, v in source.state.items() if k != DASHBOARD_SWITCH}
    return config_enabled


# -- users --------------------------------------------------------------------------------------
def list_users(session: Session) -> list[User]:
    return list(session.execute(select(User).order_by(User.active.desc(), User.email)).scalars())  # type: ignore[attr-defined]


def set_user_active(session: Session, *, user_id: int, active: bool) -> User:
    """(De)activate an account; deactivating also ends every session of it."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(f"unknown user {user_id}")
    user.active = active
    session.add(user)
    if not active:
        session.execute(delete(WebSession).where(WebSession.user_id == user_id))  # type: ignore[arg-type]
    session.flush()
    return user


def active_admins(session: Session) -> int:
    return int(session.execute(select(func.count()).select_from(User)
                               .where(User.role == "admin", User.active)).scalar_one())  # type: ignore[arg-type]


def count_sessions(session: Session, *, user_id: int) -> int:
    return int(session.execute(select(func.count()).select_from(WebSession)
                               .where(WebSession.user_id == user_id)).scalar_one())  # type: ignore[arg-type]


# -- audit log ----------------------------------------------------------------------------------
def audit_page(session: Session, *, page: int, per_page: int,
               action: str | None = None) -> tuple[list[AuditEntry], int]:
    """One page of the audit log, newest first, and the number of entries."""
    where = [AuditEntry.action == action] if action else []
    total = int(session.execute(select(func.count()).select_from(AuditEntry).where(*where)).scalar_one())
    rows = session.execute(select(AuditEntry).where(*where).order_by(AuditEntry.id.desc())  # type: ignore[union-attr]
                           .offset(max(page - 1, 0) * per_page).limit(per_page)).scalars()
    return list(rows), total


def audit_actions(session: Session) -> list[str]:
    return [a for (a,) in session.execute(select(AuditEntry.action).distinct().order_by(AuditEntry.action))]


__all__ = ["DASHBOARD_SWITCH", "DueCase", "SourceError", "WeekCount", "active_admins", "audit_actions",
           "audit_page", "complaint_deadlines_due", "count_sessions", "dashboard_switch", "data_version",
           "effective_enabled", "find_source", "latest_severity", "list_users", "open_cases_by_status", "post_case_id",
           "school_ids_by_name", "set_source_enabled", "set_user_active", "sources_with_errors",
           "stale_cases", "weekly_counts"]
