"""Schools and sources: synced from the config, status written back by crawls."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from schoolwacht.errors import NotFoundError
from store.config import Settings
from store.models import Post, School, Source
from store.overview import effective_enabled
from store.types import utcnow

MANUAL_SOURCE_PREFIX = "handmatig-"


def sync_config(session: Session, *, settings: Settings) -> None:
    """Make the School and Source rows match the config (state and history are kept)."""
    schools: dict[str, School] = {
        s.name: s for s in session.execute(select(School)).scalars()
    }
    for configured in settings.schools:
        school = schools.get(configured.name) or School(name=configured.name)
        school.aliases = list(configured.aliases)
        school.watch_names = list(configured.watch_names)
        school.exclude = list(configured.exclude)
        school.timezone = configured.timezone
        session.add(school)
        schools[configured.name] = school
    session.flush()

    existing: dict[str, Source] = {
        s.name: s for s in session.execute(select(Source)).scalars()
    }
    configured_names = set()
    for configured in settings.sources:
        configured_names.add(configured.name)
        source = existing.get(configured.name) or Source(
            name=configured.name, school_id=schools[configured.school].id, kind=configured.kind
        )
        source.school_id = schools[configured.school].id  # type: ignore[assignment]
        source.kind = configured.kind
        source.settings = configured.settings_json()
        source.interval_minutes = configured.interval_minutes
        # A switch made on the dashboard's sources page holds until `enabled` changes in the config.
        source.enabled = effective_enabled(source, configured.enabled)
        source.match = configured.match
        session.add(source)
    for name, source in existing.items():
        # A source dropped from the config stops crawling; its posts stay.
        if name not in configured_names and source.kind != "manual":
            source.enabled = False
            session.add(source)
    for school in schools.values():
        manual_source(session, school=school)
    session.flush()


def manual_source(session: Session, *, school: School) -> Source:
    """The per-school source that manual reports are filed under (created on demand)."""
    name = f"{MANUAL_SOURCE_PREFIX}{school.id}"
    source = session.execute(select(Source).where(Source.name == name)).scalars().first()
    if source is None:
        source = Source(name=name, school_id=school.id, kind="manual", match=False,  # type: ignore[arg-type]
                        interval_minutes=0, enabled=False)
        session.add(source)
        session.flush()
    return source


def get_source(session: Session, *, name: str) -> Source:
    source = session.execute(select(Source).where(Source.name == name)).scalars().first()
    if source is None:
        raise NotFoundError(f"unknown source {name!r}")
    return source


def get_school(session: Session, *, name: str) -> School:
    school = session.execute(select(School).where(School.name == name)).scalars().first()
    if school is None:
        raise NotFoundError(f"unknown school {name!r}")
    return school


def record_crawl(session: Session, *, source_id: int, started_at: datetime,
                 state_updates: dict[str, Any], error: str | None, new_posts: int) -> None:
    """Write a finished crawl's outcome; the cursor only moves for what was stored."""
    source = session.get(Source, source_id)
    if source is None:
        raise NotFoundError(f"source {source_id} disappeared during the crawl")
    if state_updates:
        source.state = {**source.state, **state_updates}
    source.last_run_at = started_at
    source.last_new_posts = new_posts
    if error:
        source.last_error = error
        source.last_error_at = utcnow()
    else:
        source.last_error = None
        source.last_success_at = utcnow()
    session.add(source)


def record_crawl_failure(session: Session, *, name: str, error: str) -> None:
    """A crawl process that died or hung: keep the cursor, show the error."""
    source = get_source(session, name=name)
    source.last_run_at = utcnow()
    source.last_error = error
    source.last_error_at = utcnow()
    session.add(source)


@dataclass(frozen=True)
class SourceStatus:
    name: str
    kind: str
    school: str
    enabled: bool
    last_run_at: datetime | None
    last_error: str | None
    posts: int


def source_statuses(session: Session) -> list[SourceStatus]:
    counts = dict(
        session.execute(select(Post.source_id, func.count()).group_by(Post.source_id)).all()
    )
    rows = session.execute(
        select(Source, School.name).join(School, School.id == Source.school_id).order_by(Source.name)
    ).all()
    return [
        SourceStatus(name=s.name, kind=s.kind, school=school, enabled=s.enabled,
                     last_run_at=s.last_run_at, last_error=s.last_error,
                     posts=int(counts.get(s.id, 0)))
        for s, school in rows
    ]
