"""Queries on posts and their captures."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from store.files import StoredFile
from store.models import Capture, Classification, Post, School, Source
from store.types import utcnow

# Core tables for the bulk inserts: the ORM's bulk path adds per-row work they do not need.
_POST: Table = Post.__table__  # type: ignore[attr-defined]
_CAPTURE: Table = Capture.__table__  # type: ignore[attr-defined]


@dataclass(slots=True)
class NewPost:
    source_id: int
    school_id: int
    platform: str
    external_id: str
    text: str
    content_sha256: str
    capture: StoredFile
    capture_url: str | None
    capture_media_type: str | None
    capture_kind: str = "raw"
    url: str | None = None
    author_handle: str | None = None
    author_name: str | None = None
    language: str | None = None
    created_at: datetime | None = None
    matched_phrase: str | None = None
    reported_by: int | None = None


def insert_posts(session: Session, *, posts: Sequence[NewPost]) -> list[int]:
    """Store posts with their captures; a post already stored is skipped, not duplicated.

    The `(platform, external_id)` constraint decides, so two crawls racing, or a crawl
    re-run after being killed, can never store one post twice. Returns the new post ids.
    """
    unique: dict[tuple[str, str], NewPost] = {}
    for post in posts:
        unique.setdefault((post.platform, post.external_id), post)
    if not unique:
        return []
    now = utcnow()
    rows = [
        {
            "source_id": p.source_id,
            "school_id": p.school_id,
            "platform": p.platform,
            "external_id": p.external_id,
            "url": p.url,
            "author_handle": p.author_handle,
            "author_name": p.author_name,
            "text": p.text,
            "language": p.language,
            "created_at": p.created_at or now,
            "fetched_at": now,
            "content_sha256": p.content_sha256,
            "matched_phrase": p.matched_phrase,
            "reported_by": p.reported_by,
        }
        for p in unique.values()
    ]
    insert = _insert_for(session)
    # One statement with a parameter list (executemany), not `.values(rows)`: SQLAlchemy
    # compiles it once and caches it, and sends the rows as multi-row INSERTs itself
    # ("insertmanyvalues"). Building a fresh `.values(rows)` statement per batch was
    # recompiled every time and cost most of a crawl's CPU (bench/ingest.py).
    post_insert = (
        insert(_POST)
        .on_conflict_do_nothing(index_elements=["platform", "external_id"])
        .returning(_POST.c.id, _POST.c.platform, _POST.c.external_id)
    )
    # Skipped rows return nothing; ids ascend in insertion order, so sorting restores it.
    inserted = sorted(session.execute(post_insert, rows).all())
    captures = []
    for post_id, platform, external_id in inserted:
        post = unique[(platform, external_id)]
        captures.append({
            "post_id": post_id,
            "kind": post.capture_kind,
            "path": post.capture.path,
            "sha256": post.capture.sha256,
            "size": post.capture.size,
            "media_type": post.capture_media_type,
            "captured_at": now,
            "url": post.capture_url,
        })
    if captures:
        session.execute(insert(_CAPTURE), captures)
    return [row[0] for row in inserted]


def _insert_for(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def add_capture(session: Session, *, post_id: int, kind: str, stored: StoredFile,
                media_type: str | None, url: str | None) -> Capture:
    capture = Capture(post_id=post_id, kind=kind, path=stored.path, sha256=stored.sha256,
                      size=stored.size, media_type=media_type, url=url)
    session.add(capture)
    session.flush()
    return capture


def find_post(session: Session, *, platform: str, external_id: str) -> Post | None:
    return session.execute(
        select(Post).where(Post.platform == platform, Post.external_id == external_id)
    ).scalars().first()


def captures_of(session: Session, *, post_id: int) -> list[Capture]:
    return list(session.execute(
        select(Capture).where(Capture.post_id == post_id).order_by(Capture.id)
    ).scalars())


def count_posts(session: Session, *, source_id: int | None = None) -> int:
    statement = select(func.count()).select_from(Post)
    if source_id is not None:
        statement = statement.where(Post.source_id == source_id)
    return int(session.execute(statement).scalar_one())


def iter_posts_for_listing(session: Session, *, batch_size: int = 1000) -> Iterator[dict[str, Any]]:
    """Every post with its school, source and latest classification, oldest first."""
    latest = (
        select(Classification.post_id, func.max(Classification.id).label("cid"))
        .group_by(Classification.post_id)
        .subquery()
    )
    statement = (
        select(Post, School.name, Source.name, Classification)
        .join(School, School.id == Post.school_id)
        .join(Source, Source.id == Post.source_id)
        .outerjoin(latest, latest.c.post_id == Post.id)
        .outerjoin(Classification, Classification.id == latest.c.cid)
        .order_by(Post.id)
        .execution_options(yield_per=batch_size)
    )
    for post, school, source, classification in session.execute(statement):
        row: dict[str, Any] = {
            "id": post.id,
            "platform": post.platform,
            "external_id": post.external_id,
            "url": post.url,
            "author": post.author_handle,
            "author_name": post.author_name,
            "text": post.text,
            "language": post.language,
            "created_at": post.created_at.isoformat(),
            "fetched_at": post.fetched_at.isoformat(),
            "school": school,
            "source": source,
            "matched_phrase": post.matched_phrase,
            "content_sha256": post.content_sha256,
        }
        if classification is not None:
            row["sentiment"] = classification.sentiment
            row["categories"] = classification.categories
            row["severity"] = classification.severity
        yield row
