"""Reddit: the anonymous Atom listing of each subreddit's newest posts (SOURCES.md).

Reddit's `.json` is closed to anonymous clients since 2026 and its OAuth search needs an
approved app; `/r/{sub}/new/.rss` still works without either. The newest listing, not
the default hot one: a post that is downvoted (as hostile posts often are) drops out of
hot but stays in new.

One feed per subreddit and crawl, no paging: the feed holds the newest posts (up to
`limit=100`) and a crawl every interval keeps up with any subreddit about one town. (The
listing would take `after=t3_…`, but following it only digs further into the past, which
the high-water mark skips anyway.) Incremental: the newest post time per subreddit is kept
under `r/<sub>`; older entries are skipped.
"""

from __future__ import annotations

import re
from typing import Any

import lxml.html
from lxml import etree
from scrapy.http import Response

from crawlers.items import PostItem, RawCapture
from crawlers.spiders.base import SourceSpider
from crawlers.spiders.feeds import HighWater, fresh_entries, load_feed, text_of
from crawlers.text import html_to_text
from store.config import RedditSource

# Reddit's rule for subreddit names: 3-21 letters, digits and underscores (some old ones
# have 2).
_SUBREDDIT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]{1,20}$")
PAGE_LIMIT = 100


def subreddit_name(configured: str) -> str | None:
    """`Groningen`, `r/Groningen` or `/r/Groningen/` as `Groningen`; None when invalid."""
    name = configured.strip().strip("/")
    name = name.removeprefix("r/").removeprefix("R/")
    return name if _SUBREDDIT.match(name) else None


def self_text(content_html: str) -> str:
    """The post's own text from the entry HTML, without Reddit's "submitted by" footer.

    Self posts wrap their text in `<div class="md">`; link posts have no such div and
    only a thumbnail and the footer, so they have no text of their own.
    """
    if 'class="md"' not in content_html:
        return ""
    try:
        root = lxml.html.fragment_fromstring(content_html, create_parent="div")
    except (etree.ParserError, ValueError):
        return ""
    for div in root.xpath('//div[contains(concat(" ", normalize-space(@class), " "), " md ")]'):
        return html_to_text(lxml.html.tostring(div, encoding="unicode"))
    return ""


class RedditSpider(SourceSpider):
    kind = "reddit"
    platform = "reddit"
    source: RedditSource

    def initial_requests(self) -> list[Any]:
        base = self.source.base_url.rstrip("/")
        requests = []
        seen: set[str] = set()
        for configured in self.source.subreddits:
            name = subreddit_name(configured)
            if name is None:
                self.record_error(f"subreddit {configured!r}: geen geldige naam (3-21 letters, "
                                  f"cijfers of _)")
                continue
            if name.lower() in seen:
                continue
            seen.add(name.lower())
            url = f"{base}/r/{name}/new/.rss?limit={PAGE_LIMIT}"
            requests.append(self.request(url, self.parse_listing,
                                         cb_kwargs={"subreddit": name.lower()}))
        return requests

    def parse_listing(self, response: Response, subreddit: str) -> Any:
        parsed = load_feed(response)
        capture = self.capture(response)
        key = f"r/{subreddit}"
        mark = HighWater.from_state(self.state, key)
        for entry, created in fresh_entries(parsed.entries, mark):
            item = self.parse_entry(entry, capture)
            if item is not None:
                item.created_at = created
                yield item
        if mark.value():
            self.state_updates[key] = mark.value()

    def parse_entry(self, entry: Any, capture: RawCapture) -> PostItem | None:
        post_id = (entry.get("id") or "").strip()
        if not post_id:
            return None
        title = text_of(entry.get("title_detail"), entry.get("title") or "").strip()
        contents = entry.get("content") or []
        body = self_text(contents[0].get("value") or "") if contents else ""
        author = ((entry.get("author_detail") or {}).get("name") or "").strip()
        # Reddit writes "/u/name"; deleted accounts have no author element at all.
        handle = author.lstrip("/") if author else None
        return PostItem(
            platform=self.platform,
            external_id=post_id,  # "t3_<base36>", Reddit's fullname of the post
            text=f"{title}\n\n{body}" if body else title,
            capture=capture,
            url=entry.get("link") or None,
            author_handle=handle,
            author_name=None,
        )
