"""Item pipelines: normalise -> match the school -> store (DESIGN.md, flow step 1)."""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from crawlers.items import PostItem, RawCapture
from crawlers.matching import SchoolMatcher
from store.config import Settings
from store.db import make_engine, session_scope
from store.files import StoredFile, store_blob
from store.posts import NewPost, insert_posts

logger = logging.getLogger(__name__)

# Control characters other than tab and newline never belong in a post.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_BLANK_LINES = re.compile(r"\n{3,}")
MAX_FIELD = 512


def clean_text(text: str) -> str:
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    return _BLANK_LINES.sub("\n\n", text).strip()


def _short(value: str | None) -> str | None:
    if value is None:
        return None
    value = clean_text(value)
    return value[:MAX_FIELD] or None


class NormalizePipeline:
    """Text cleaned (not escaped: HTML typed by a poster stays verbatim), fields bounded."""

    def process_item(self, item: PostItem) -> PostItem:
        item.text = clean_text(item.text)
        if not item.text:
            raise DropItem(f"empty post {item.platform}:{item.external_id}")
        item.external_id = item.external_id.strip()[:MAX_FIELD]
        item.author_handle = _short(item.author_handle)
        item.author_name = _short(item.author_name)
        item.content_sha256 = hashlib.sha256(item.text.encode("utf-8")).hexdigest()
        return item


class MatchPipeline:
    """Keeps posts that mention the school, unless the source is the school's own channel."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.matcher: SchoolMatcher | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> MatchPipeline:
        return cls(crawler)

    def open_spider(self) -> None:
        spider = self.crawler.spider
        school = spider.school  # type: ignore[union-attr]
        self.enabled = spider.source.match  # type: ignore[union-attr]
        self.matcher = SchoolMatcher(tuple(school.aliases), tuple(school.watch_names),
                                     tuple(school.exclude))

    def process_item(self, item: PostItem) -> PostItem:
        assert self.matcher is not None
        match = self.matcher.match(item.text)
        if match is not None:
            item.matched_phrase = match.term
        elif self.enabled:
            raise DropItem(f"no mention of the school in {item.platform}:{item.external_id}")
        return item


class StorePipeline:
    """Writes captures and posts in batches; posts already stored are skipped.

    A batch is one transaction: a crash loses at most the uncommitted batch, and because the
    source's cursor only moves at the end of a finished crawl, the next crawl fetches those
    posts again and the unique constraint drops what was already stored.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        settings: Settings = crawler.settings["SCHOOLWACHT_SETTINGS"]
        self.settings = settings
        self.batch_size = crawler.settings.getint("SCHOOLWACHT_STORE_BATCH", 200)
        self.pending: list[PostItem] = []
        self.new_posts = 0
        self._last_capture: tuple[bytes, StoredFile] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        return cls(crawler)

    def open_spider(self) -> None:
        self.engine = make_engine(self.settings.database.url)

    def process_item(self, item: PostItem) -> PostItem:
        self.pending.append(item)
        if len(self.pending) >= self.batch_size:
            self.flush()
        return item

    def _store_capture(self, capture: RawCapture) -> StoredFile:
        # Posts of one page share the same bytes object: hash and write it once. The object
        # itself is kept, not its id(): once a batch is flushed the page may be freed and the
        # next page's bytes can get the same id, which gave posts another page's capture.
        if self._last_capture is not None and self._last_capture[0] is capture.body:
            return self._last_capture[1]
        stored = store_blob(self.settings.storage.dir, capture.body, media_type=capture.media_type)
        self._last_capture = (capture.body, stored)
        return stored

    def flush(self) -> None:
        if not self.pending:
            return
        spider = self.crawler.spider
        source_id: int = spider.source_id  # type: ignore[union-attr]
        school_id: int = spider.school_id  # type: ignore[union-attr]
        rows = [
            NewPost(
                source_id=source_id, school_id=school_id, platform=item.platform,
                external_id=item.external_id, text=item.text,
                content_sha256=item.content_sha256, capture=self._store_capture(item.capture),
                capture_url=item.capture.url, capture_media_type=item.capture.media_type,
                url=item.url, author_handle=item.author_handle, author_name=item.author_name,
                language=item.language, created_at=item.created_at,
                matched_phrase=item.matched_phrase,
            )
            for item in self.pending
        ]
        with session_scope(self.engine) as session:
            self.new_posts += len(insert_posts(session, posts=rows))
        self.pending.clear()

    def close_spider(self) -> None:
        spider = self.crawler.spider
        try:
            self.flush()
        except Exception as exc:  # keep the cursor: the next crawl retries these posts
            logger.exception("storing posts failed")
            spider.record_error(f"opslaan mislukt: {type(exc).__name__}: {exc}")  # type: ignore[union-attr]
            spider.state_updates.clear()  # type: ignore[union-attr]
        finally:
            spider.new_posts = self.new_posts  # type: ignore[union-attr]
            self.engine.dispose()


__all__ = ["MatchPipeline", "NormalizePipeline", "StorePipeline", "clean_text"]
