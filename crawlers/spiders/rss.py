"""RSS 2.0 and Atom feeds: regional news, blogs and Google Alerts (SOURCES.md).

Every configured feed is read whole on each crawl (feeds do not page). Incremental: the
newest entry time per feed is kept under `feed:<url>`, and entries older than it are
skipped; entries at that time pass on to the (platform, external_id) constraint.
Google Alerts wraps every link in `https://www.google.com/url?...&url=<real>` and marks the
matched words with `<b>`: the link is unwrapped, the markup dropped.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from scrapy.http import Response

from crawlers.items import PostItem, RawCapture
from crawlers.spiders.base import SourceSpider
from crawlers.spiders.feeds import HighWater, fresh_entries, load_feed, text_of
from store.config import RssSource


def unwrap_google_url(url: str) -> str:
    """The target of a google.com/url redirect link; any other URL unchanged."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.path != "/url" or not (host == "google.com" or host.startswith("www.google.")
                                     or host.startswith("google.")):
        return url
    query = parse_qs(parts.query)
    for name in ("url", "q"):
        target = (query.get(name) or [""])[0]
        if urlsplit(target).scheme in ("http", "https"):
            return target
    return url


def entry_body(entry: Any) -> str:
    """The entry's text below its title: full content when the feed has it, else summary."""
    for content in entry.get("content") or []:
        text = text_of(content)
        if text.strip():
            return text
    return text_of(entry.get("summary_detail"), entry.get("summary") or "")


def language_of(entry: Any, feed: Any) -> str | None:
    tag = (entry.get("title_detail") or {}).get("language") or feed.get("language")
    if not tag:
        return None
    return str(tag).split("-")[0].split("_")[0].lower() or None


class RssSpider(SourceSpider):
    kind = "rss"
    platform = "rss"
    source: RssSource

    def configured_urls(self) -> list[str]:
        return self.source.feed_urls()

    def initial_requests(self) -> list[Any]:
        headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, "
                             "text/xml;q=0.8"}
        return [self.request(url, self.parse_feed, headers=headers, cb_kwargs={"feed_url": url})
                for url in self.source.feed_urls()]

    def parse_feed(self, response: Response, feed_url: str) -> Any:
        parsed = load_feed(response)
        capture = self.capture(response)
        key = f"feed:{feed_url}"
        mark = HighWater.from_state(self.state, key)
        for entry, created in fresh_entries(parsed.entries, mark):
            item = self.parse_entry(entry, parsed.feed, feed_url, capture)
            if item is not None:
                item.created_at = created
                yield item
        if mark.value():
            self.state_updates[key] = mark.value()

    def parse_entry(self, entry: Any, feed: Any, feed_url: str,
                    capture: RawCapture) -> PostItem | None:
        link = entry.get("link") or None
        url = unwrap_google_url(link) if link else None
        entry_id = (entry.get("id") or "").strip()
        if entry_id and not urlsplit(entry_id).scheme:
            # A bare guid ("48213") is only unique within its own feed.
            entry_id = f"{feed_url}#{entry_id}"
        external_id = entry_id or url
        if not external_id:
            self.logger.info("%s: entry without id or link skipped", feed_url)
            return None
        title = text_of(entry.get("title_detail"), entry.get("title") or "").strip()
        body = entry_body(entry).strip()
        text = f"{title}\n\n{body}" if title and body and body != title else (title or body)
        author = entry.get("author_detail") or {}
        return PostItem(
            platform=self.platform,
            external_id=external_id,
            text=text,
            capture=capture,
            url=url,
            author_handle=None,
            author_name=(author.get("name") or entry.get("author") or "").strip() or None,
            language=language_of(entry, feed),
        )
