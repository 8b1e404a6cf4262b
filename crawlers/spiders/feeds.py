"""What the RSS, Reddit and YouTube spiders share: reading an RSS/Atom feed, entry times
and the per-endpoint high-water mark that makes a crawl incremental."""

from __future__ import annotations

import codecs
import io
import logging
import re
import time
import xml.sax
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser
from scrapy.http import Response

from crawlers.spiders.base import parse_time, redact
from crawlers.text import html_to_text
from schoolwacht.errors import FetchError

logger = logging.getLogger(__name__)

_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._-]+)""", re.IGNORECASE)
# A feed's clock may run ahead; a mark in the future would hide every later entry.
CLOCK_SKEW = timedelta(minutes=10)


def _declared_encoding(content_type: str, body: bytes) -> str:
    """The encoding the server or the XML declaration names; UTF-8 when neither does."""
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"  # its declaration is not readable as ASCII bytes
    match = _CHARSET.search(content_type)
    if match is None:
        match = _XML_ENCODING.match(body[:200])
        name = match.group(1).decode("ascii") if match else "utf-8"
    else:
        name = match.group(1)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return name.lower()


def _bozo_reason(error: Exception | None) -> str:
    if isinstance(error, xml.sax.SAXParseException):
        return f"ongeldige XML op regel {error.getLineNumber()}, kolom {error.getColumnNumber()}"
    if error is None:
        return "onleesbaar"
    return f"onleesbaar ({type(error).__name__})"


def load_feed(response: Response) -> Any:
    """The parsed feed (a feedparser dict), or FetchError with a Dutch message.

    RSS 2.0 and Atom come as application/rss+xml, application/atom+xml, text/xml or
    application/xml; anything else (a consent page, a block page in text/html) is refused.
    A feed with small XML errors whose entries were still recovered is used; one with no
    entries and errors is not.
    """
    url = redact(response.url)
    content_type = response.headers.get(b"Content-Type", b"").decode("latin-1")
    mime = content_type.split(";")[0].strip().lower()
    if not (mime.endswith("/xml") or mime.endswith("+xml")):
        got = mime or "geen content-type"
        raise FetchError(f"{url}: verwacht een RSS- of Atom-feed, kreeg {got}")
    body = response.body
    if _declared_encoding(content_type, body) == "utf-8":
        # feedparser would silently fall back to windows-1252 and store mojibake as evidence.
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FetchError(f"{url}: ongeldige UTF-8 op byte {exc.start}") from None
    # A stream, never bytes: feedparser treats bytes that name an existing file as a path.
    parsed = feedparser.parse(io.BytesIO(body), response_headers={"content-type": content_type},
                              sanitize_html=True, resolve_relative_uris=False)
    if not parsed.entries:
        if parsed.bozo:
            reason = _bozo_reason(parsed.get("bozo_exception"))
            raise FetchError(f"{url}: geen geldige feed: {reason}")
        if not parsed.version:
            raise FetchError(f"{url}: geen RSS- of Atom-feed herkend")
    elif parsed.bozo:
        logger.warning("%s: feed has errors, %d entries recovered: %s", url, len(parsed.entries),
                       parsed.get("bozo_exception"))
    return parsed


def _struct_time(value: time.struct_time | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime(*value[:6], tzinfo=UTC)  # feedparser already converted it to UTC
    except (TypeError, ValueError):
        return None


def entry_times(entry: Any) -> tuple[datetime | None, datetime | None]:
    """(created, changed): the publication time (or the update time when there is none) and
    the latest of both, which decides whether an entry is new to us."""
    published = _struct_time(entry.get("published_parsed"))
    updated = _struct_time(entry.get("updated_parsed"))
    created = published or updated
    changed = max((t for t in (published, updated) if t is not None), default=None)
    return created, changed


def text_of(detail: Any, fallback: str = "") -> str:
    """Plain text of a feedparser text construct: markup removed only when it is markup."""
    if not detail:
        return fallback
    value = detail.get("value") or ""
    if "html" in (detail.get("type") or ""):
        return html_to_text(value)
    return value


@dataclass
class HighWater:
    """The newest time seen on one endpoint, stored as ISO text in `Source.state`.

    Entries older than the previous mark were seen before and are skipped; entries at the
    mark itself go through (the (platform, external_id) constraint drops what is stored).
    """

    previous: datetime | None
    newest: datetime | None = None

    @classmethod
    def from_state(cls, state: dict[str, Any], key: str) -> HighWater:
        value = state.get(key)
        previous = parse_time(value) if isinstance(value, str) else None
        return cls(previous=previous, newest=previous)

    def is_old(self, when: datetime | None) -> bool:
        return self.previous is not None and when is not None and when < self.previous

    def see(self, when: datetime | None) -> None:
        if when is None or when > datetime.now(UTC) + CLOCK_SKEW:
            return
        if self.newest is None or when > self.newest:
            self.newest = when

    def value(self) -> str | None:
        return self.newest.isoformat() if self.newest else None


__all__ = ["HighWater", "entry_times", "load_feed", "text_of"]


def fresh_entries(entries: Any, mark: HighWater) -> Iterator[tuple[Any, datetime | None]]:
    """Entries newer than the stored mark, with their creation time; moves the mark along."""
    for entry in entries:
        created, changed = entry_times(entry)
        mark.see(changed)
        if not mark.is_old(changed):
            yield entry, created
