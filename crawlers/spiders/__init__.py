"""One spider per source kind; `spider_for(kind)` imports only the one a crawl needs."""

from __future__ import annotations

from importlib import import_module

from crawlers.spiders.base import SourceSpider

SPIDER_MODULES = {
    "rss": "crawlers.spiders.rss:RssSpider",
    "mastodon": "crawlers.spiders.mastodon:MastodonSpider",
    "bluesky": "crawlers.spiders.bluesky:BlueskySpider",
    "reddit": "crawlers.spiders.reddit:RedditSpider",
    "youtube": "crawlers.spiders.youtube:YoutubeSpider",
    "web": "crawlers.spiders.web:WebSpider",
    "x": "crawlers.spiders.x:XSpider",
    "facebook_page": "crawlers.spiders.facebook_page:FacebookPageSpider",
}


def spider_for(kind: str) -> type[SourceSpider]:
    try:
        module_name, class_name = SPIDER_MODULES[kind].split(":")
    except KeyError:
        raise ValueError(f"no spider for source kind {kind!r}") from None
    spider: type[SourceSpider] = getattr(import_module(module_name), class_name)
    return spider


__all__ = ["SPIDER_MODULES", "SourceSpider", "spider_for"]
