"""Every table of Schoolwacht (DESIGN.md, Data model).

Schema changes go through Alembic (`store/migrations/`); `alembic check` in the test suite
proves these classes and the migrations agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from store.types import UTCDateTime, utcnow

# Portable JSON (TEXT on SQLite, json on PostgreSQL); small documents only.
JSONType = JSON()


def _json_list() -> Any:
    return Field(default_factory=list, sa_column=Column(JSONType, nullable=False))


def _json_dict() -> Any:
    return Field(default_factory=dict, sa_column=Column(JSONType, nullable=False))


def _when(*, nullable: bool = False, index: bool = False, now: bool = True) -> Any:
    return Field(
        default_factory=utcnow if now else None,
        sa_column=Column(UTCDateTime(), nullable=nullable, index=index),
    )


def _long_text(*, nullable: bool = False) -> Any:
    return Field(default="" if not nullable else None, sa_column=Column(Text, nullable=nullable))


class School(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=200)
    aliases: list[str] = _json_list()
    watch_names: list[str] = _json_list()
    exclude: list[str] = _json_list()
    timezone: str = Field(default="Europe/Amsterdam", max_length=64)


class Source(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=200)
    school_id: int = Field(foreign_key="school.id", index=True)
    kind: str = Field(max_length=32)
    settings: dict[str, Any] = _json_dict()
    interval_minutes: int = 60
    enabled: bool = True
    match: bool = True
    # Incremental crawl cursor (high-water marks); written only after a crawl's posts are stored.
    state: dict[str, Any] = _json_dict()
    last_run_at: datetime | None = _when(nullable=True, now=False)
    last_success_at: datetime | None = _when(nullable=True, now=False)
    last_error: str | None = _long_text(nullable=True)
    last_error_at: datetime | None = _when(nullable=True, now=False)
    last_new_posts: int = 0


class Post(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("platform", "external_id", name="uq_post_platform_external_id"),
        Index("ix_post_school_created", "school_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="source.id", index=True)
    school_id: int = Field(foreign_key="school.id")
    platform: str = Field(max_length=32)
    external_id: str = Field(max_length=512)
    url: str | None = _long_text(nullable=True)
    author_handle: str | None = Field(default=None, max_length=512)
    author_name: str | None = Field(default=None, max_length=512)
    text: str = _long_text()
    language: str | None = Field(default=None, max_length=16)
    created_at: datetime = _when()
    fetched_at: datetime = _when()
    content_sha256: str = Field(max_length=64)
    matched_phrase: str | None = Field(default=None, max_length=512)
    removed_at: datetime | None = _when(nullable=True, now=False)
    reported_by: int | None = Field(default=None, foreign_key="user.id")


class Capture(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("post_id", "kind", "sha256", name="uq_capture_post_kind_sha"),)

    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="post.id", index=True)
    kind: str = Field(max_length=16)  # raw | html | screenshot
    path: str = Field(max_length=512, index=True)  # relative to the storage dir; indexed for retention
    sha256: str = Field(max_length=64)
    size: int
    media_type: str | None = Field(default=None, max_length=128)
    captured_at: datetime = _when()
    url: str | None = _long_text(nullable=True)


class Classification(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="post.id", index=True)
    model: str = Field(max_length=256)
    version: str = Field(max_length=64)
    language: str | None = Field(default=None, max_length=16)
    sentiment: str = Field(max_length=16)
    sentiment_score: float = 0.0
    scores: dict[str, float] = _json_dict()
    categories: list[str] = _json_list()
    explanations: dict[str, Any] = _json_dict()
    severity: str = Field(max_length=16, index=True)
    created_at: datetime = _when()


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True, max_length=320)
    name: str = Field(default="", max_length=200)
    role: str = Field(max_length=16)  # admin | director | staff
    password_hash: str = Field(max_length=512)
    active: bool = True
    created_at: datetime = _when()
    last_login_at: datetime | None = _when(nullable=True, now=False)
    failed_logins: int = 0
    locked_until: datetime | None = _when(nullable=True, now=False)


class Case(SQLModel, table=True):
    __table_args__ = (Index("ix_case_school_status", "school_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    school_id: int = Field(foreign_key="school.id")
    status: str = Field(default="new", max_length=32)
    severity: str = Field(default="negative", max_length=16)
    opened_at: datetime = _when()
    updated_at: datetime = _when()
    closed_at: datetime | None = _when(nullable=True, now=False)
    # When the school learned of the post: the 3-month complaint period starts here.
    learned_at: datetime = _when()
    assignee_id: int | None = Field(default=None, foreign_key="user.id", index=True)
    articles: list[str] = _json_list()
    categories: list[str] = _json_list()
    deadline: datetime | None = _when(nullable=True, now=False)
    # Key of the author/thread so that later posts join the open case.
    thread_key: str | None = Field(default=None, max_length=512, index=True)
    police_reference: str | None = Field(default=None, max_length=128)
    reported_at: datetime | None = _when(nullable=True, now=False)


class CasePost(SQLModel, table=True):
    case_id: int = Field(foreign_key="case.id", primary_key=True)
    post_id: int = Field(foreign_key="post.id", primary_key=True, index=True)
    added_at: datetime = _when()


class CaseEvent(SQLModel, table=True):
    """The case timeline; append-only."""

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    at: datetime = _when()
    actor_id: int | None = Field(default=None, foreign_key="user.id")
    actor: str = Field(default="systeem", max_length=320)
    action: str = Field(max_length=32)
    note: str = _long_text()
    data: dict[str, Any] = _json_dict()


class AuditEntry(SQLModel, table=True):
    """Append-only; each entry carries the SHA-256 of the previous one (tamper-evident)."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _when()
    actor_id: int | None = Field(default=None, foreign_key="user.id")
    actor: str = Field(default="systeem", max_length=320)
    action: str = Field(max_length=64)
    object_type: str = Field(default="", max_length=32)
    object_id: str = Field(default="", max_length=64)
    detail: dict[str, Any] = _json_dict()
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)


class Outbox(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    # One mail per (purpose, recipient): e.g. "alert:post:17:directeur@school.example".
    dedup_key: str = Field(unique=True, max_length=512)
    kind: str = Field(max_length=16)  # alert | digest
    recipient: str = Field(max_length=320)
    subject: str = Field(max_length=998)
    body_text: str = _long_text()
    body_html: str = _long_text()
    created_at: datetime = _when()
    attempts: int = 0
    next_attempt_at: datetime = _when(index=True)
    last_error: str | None = _long_text(nullable=True)
    sent_at: datetime | None = _when(nullable=True, now=False)
    # Set when max attempts are spent (or the server refuses the recipient for good).
    failed_at: datetime | None = _when(nullable=True, now=False)
    # Inline images: [{"cid": ..., "content_type": "image/png", "data": base64}] (the digest chart).
    attachments: list[dict[str, Any]] = _json_list()
    post_id: int | None = Field(default=None, foreign_key="post.id", index=True)
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)


class Feedback(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="post.id", index=True)
    classification_id: int | None = Field(default=None, foreign_key="classification.id")
    user_id: int | None = Field(default=None, foreign_key="user.id")
    verdict: str = Field(max_length=16)  # confirmed | dismissed | corrected
    sentiment: str | None = Field(default=None, max_length=16)
    categories: list[str] = _json_list()
    note: str = _long_text()
    created_at: datetime = _when()


__all__ = [
    "AuditEntry",
    "Capture",
    "Case",
    "CaseEvent",
    "CasePost",
    "Classification",
    "Feedback",
    "Outbox",
    "Post",
    "School",
    "Source",
    "User",
]


class Lease(SQLModel, table=True):
    """A named lock with an expiry, held by one process while it runs a job (see scheduler.py)."""

    name: str = Field(primary_key=True, max_length=200)
    holder: str = Field(max_length=200)
    acquired_at: datetime = _when()
    expires_at: datetime = _when()
    # When the job last finished and how: shown by `schoolwacht alerts status` and the dashboard.
    last_finished_at: datetime | None = _when(nullable=True, now=False)
    last_error: str | None = _long_text(nullable=True)


class WebSession(SQLModel, table=True):
    """A dashboard login. The cookie holds a random token; only its SHA-256 is stored, so a copy
    of the database does not log anyone in. Logout deletes the row (revocation works)."""

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="user.id", index=True)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = _when()
    last_seen_at: datetime = _when()
    expires_at: datetime = _when(index=True)
    ip: str = Field(default="", max_length=64)
