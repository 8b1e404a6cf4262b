"""What spiders yield: plain dataclasses, filled in further by the pipelines."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(slots=True)
class RawCapture:
    """The bytes of one response exactly as fetched (shared by the posts it contained)."""

    body: bytes
    url: str
    media_type: str | None = None


@dataclass(slots=True)
class PostItem:
    platform: str
    external_id: str
    text: str
    capture: RawCapture
    url: str | None = None
    author_handle: str | None = None
    author_name: str | None = None
    created_at: datetime | None = None
    language: str | None = None
    # Filled in by the pipelines.
    matched_phrase: str | None = None
    content_sha256: str = ""
    extra: dict[str, str] = field(default_factory=dict)


__all__ = ["PostItem", "RawCapture"]
