"""Manual reports: posts staff saw in places no spider can read (WhatsApp, closed groups).

The dashboard's report form and `schoolwacht report` both call `submit_report`. A report
takes the same path as a crawled post afterwards (classification, case, evidence): it is a
`Post` of the school's manual source, with the submitted fields kept as its raw capture and
the screenshot, if any, as a `screenshot` capture.
"""

from __future__ import annotations

import hashlib
import io
import json
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from PIL import Image
from sqlmodel import Session

from crawlers.pipelines import clean_text
from schoolwacht.errors import InputError, UploadError
from store.config import Settings
from store.files import store_blob
from store.models import Post
from store.posts import NewPost, add_capture, find_post, insert_posts
from store.sources import get_school, manual_source

MAX_SCREENSHOT_BYTES = 10 * 1024 * 1024
# A screenshot larger than this many pixels is refused before decoding (decompression bomb).
MAX_SCREENSHOT_PIXELS = 40_000_000
MAX_TEXT_CHARS = 100_000
PLATFORMS = ("whatsapp", "facebook", "instagram", "tiktok", "x", "linkedin", "youtube",
             "mastodon", "bluesky", "reddit", "forum", "news_comment", "email", "other")


@dataclass(frozen=True)
class Screenshot:
    data: bytes
    media_type: str


def validate_screenshot(data: bytes) -> Screenshot:
    """Accept PNG or JPEG by content (not by name), at most 10 MB, no decompression bomb."""
    if len(data) > MAX_SCREENSHOT_BYTES:
        raise UploadError(f"screenshot is {len(data) / 1_048_576:.1f} MB; at most 10 MB allowed")
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        media_type, expected = "image/png", "PNG"
    elif data.startswith(b"\xff\xd8\xff"):
        media_type, expected = "image/jpeg", "JPEG"
    else:
        raise UploadError("screenshot must be a PNG or JPEG image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.format != expected:
                    raise UploadError("screenshot content does not match its image type")
                width, height = image.size
                if width * height > MAX_SCREENSHOT_PIXELS:
                    raise UploadError(f"screenshot of {width}x{height} pixels is too large")
                image.verify()
    except UploadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadError("screenshot is too large when decoded") from None
    except Exception as exc:  # Pillow raises many types for corrupt images
        raise UploadError(f"screenshot is not a valid image ({type(exc).__name__})") from None
    return Screenshot(data=data, media_type=media_type)


@dataclass(frozen=True)
class ManualReport:
    school: str
    text: str
    url: str | None = None
    author: str | None = None
    platform: str = "other"
    created_at: datetime | None = None
    screenshot: bytes | None = None
    reporter_id: int | None = None


def _check(report: ManualReport) -> tuple[str, Screenshot | None]:
    text = clean_text(report.text)
    if not text:
        raise InputError("the report needs the text of the post")
    if len(text) > MAX_TEXT_CHARS:
        raise InputError(f"the text is longer than {MAX_TEXT_CHARS} characters")
    if report.platform not in PLATFORMS:
        raise InputError(f"unknown platform {report.platform!r} (one of {', '.join(PLATFORMS)})")
    if report.url:
        parts = urlsplit(report.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InputError(f"not an http(s) URL: {report.url!r}")
    if report.created_at is not None and report.created_at.tzinfo is None:
        raise InputError("the post date needs a time zone")
    screenshot = validate_screenshot(report.screenshot) if report.screenshot else None
    return text, screenshot


def submit_report(session: Session, settings: Settings, report: ManualReport) -> Post:
    """Store a manual report (idempotent: the same report twice is one post)."""
    text, screenshot = _check(report)
    school = get_school(session, name=report.school)
    source = manual_source(session, school=school)
    fields = {
        "school": report.school, "platform": report.platform, "url": report.url,
        "author": report.author, "text": text,
        "created_at": report.created_at.astimezone(UTC).isoformat() if report.created_at else None,
    }
    identity = json.dumps(fields, sort_keys=True, ensure_ascii=False).encode("utf-8")
    external_id = "manual:" + hashlib.sha256(identity).hexdigest()[:32]
    existing = find_post(session, platform=report.platform, external_id=external_id)
    if existing is not None:
        return existing
    raw = store_blob(settings.storage.dir, identity, media_type="application/json")
    insert_posts(session, posts=[NewPost(
        source_id=source.id, school_id=school.id,  # type: ignore[arg-type]
        platform=report.platform, external_id=external_id, text=text,
        content_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(), capture=raw,
        capture_url=report.url, capture_media_type="application/json", url=report.url,
        author_handle=(report.author or "").strip()[:512] or None,
        created_at=report.created_at, reported_by=report.reporter_id,
    )])
    post = find_post(session, platform=report.platform, external_id=external_id)
    assert post is not None and post.id is not None
    if screenshot is not None:
        stored = store_blob(settings.storage.dir, screenshot.data,
                            media_type=screenshot.media_type, folder="screenshots")
        add_capture(session, post_id=post.id, kind="screenshot", stored=stored,
                    media_type=screenshot.media_type, url=report.url)
    return post


__all__ = ["ManualReport", "Screenshot", "submit_report", "validate_screenshot"]
