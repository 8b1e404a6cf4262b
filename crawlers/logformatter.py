"""Log formatting for crawls: dropping posts that do not mention the school is routine."""

from __future__ import annotations

import logging
from typing import Any

from scrapy.logformatter import LogFormatter


class QuietDropLogFormatter(LogFormatter):
    """Scrapy logs every dropped item as a WARNING and every item at DEBUG with its full
    content; most posts a hashtag or feed yields are dropped for not naming the school, so
    that would bury real warnings (and copy post texts into logs). Drops go to DEBUG, and
    items are logged by id only."""

    def dropped(self, item: Any, exception: BaseException, response: Any, spider: Any) -> Any:
        entry = super().dropped(item, exception, response, spider)
        entry["level"] = logging.DEBUG
        return entry

    def scraped(self, item: Any, response: Any, spider: Any) -> Any:
        entry = super().scraped(item, response, spider)
        entry["msg"] = "Scraped %(platform)s post %(external_id)s"
        entry["args"] = {"platform": getattr(item, "platform", "?"),
                         "external_id": getattr(item, "external_id", "?")}
        return entry
