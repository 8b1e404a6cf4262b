"""Web pages: configured URLs (forums, school-related sites), main text, school mentions.

Each configured page is fetched (robots.txt obeyed: `ROBOTSTXT_OBEY` is on for this kind),
its main text extracted with trafilatura (navigation, footers and cookie banners dropped),
and the paragraphs that mention the school kept. One post is one *version* of a page: its
external id ends in a hash of the kept text, so an unchanged page adds nothing and a changed
page adds a new post beside the old one (the old version stays as evidence). The hash per
URL is kept in the source's state, so an unchanged page is not even handed to the pipeline.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import lxml.html
import trafilatura
from lxml import etree
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from crawlers.items import PostItem
from crawlers.matching import SchoolMatcher
from crawlers.spiders.base import SourceSpider, describe_failure, parse_time, redact
from crawlers.text import html_to_text
from schoolwacht.errors import FetchError
from store.config import WebSource

HTML_TYPES = ("text/html", "application/xhtml+xml")
# Scrapy's RobotsTxtMiddleware refuses with exactly this message.
ROBOTS_FORBIDDEN = "Forbidden by robots.txt"
# Room left in the 512-character external id for "#" and the version hash.
MAX_URL_IN_ID = 480
# Only dates a page declares (meta tags, <time>); a free-text search would take a footer's
# "© 2026" for the date of a forum thread.
DATE_PARAMS = {"original_date": True, "extensive_search": False,
               "outputformat": "%Y-%m-%dT%H:%M:%S%z"}


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def page_id(url: str) -> str:
    """The URL part of a version's external id, bounded so the hash is never cut off."""
    if len(url) <= MAX_URL_IN_ID:
        return url
    return f"{url[:MAX_URL_IN_ID - 17]}~{sha256_hex(url)[:16]}"


def body_text(html: str) -> str:
    """Fallback when trafilatura finds no main text: the visible text of <body>."""
    try:
        root = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return html_to_text(html)
    body = root.find("body")
    target = body if body is not None else root
    return html_to_text(lxml.html.tostring(target, encoding="unicode"))


def extract(html: str, url: str) -> tuple[str, datetime | None]:
    """The page's main text (comments included) and the date it declares, if any."""
    document = trafilatura.bare_extraction(
        html, url=url, include_comments=True, favor_recall=True, with_metadata=True,
        date_extraction_params=DATE_PARAMS,
    )
    text = getattr(document, "text", None) if document is not None else None
    date = getattr(document, "date", None) if document is not None else None
    if not text:
        text = body_text(html)
    return text, parse_time(date) if isinstance(date, str) else None


class WebSpider(SourceSpider):
    kind = "web"
    platform = "web"
    source: WebSource

    def configured_urls(self) -> list[str]:
        return list(self.source.urls)

    def initial_requests(self) -> list[Any]:
        return [self.request(url, self.parse_page, cb_kwargs={"page_url": url})
                for url in self.source.urls]

    def on_error(self, failure: Failure) -> None:
        error = failure.value
        if isinstance(error, IgnoreRequest) and str(error) == ROBOTS_FORBIDDEN:
            request = getattr(failure, "request", None)
            url = redact(request.url) if request is not None else "deze pagina"
            self.record_error(f"robots.txt verbiedt het ophalen van {url}")
            return
        self.record_error(describe_failure(failure))

    @cached_property
    def matcher(self) -> SchoolMatcher:
        return SchoolMatcher(tuple(self.school.aliases), tuple(self.school.watch_names),
                             tuple(self.school.exclude))

    def keep(self, text: str) -> str:
        """The paragraphs that mention the school (all of them when match = false)."""
        paragraphs = [line.strip() for line in text.split("\n") if line.strip()]
        if not self.source.match:
            return "\n\n".join(paragraphs)
        return "\n\n".join(p for p in paragraphs if self.matcher.match(p) is not None)

    def parse_page(self, response: Response, page_url: str) -> Iterator[PostItem]:
        fetched_at = datetime.now(UTC)
        content_type = response.headers.get(b"Content-Type", b"").decode("latin-1")
        media_type = content_type.split(";")[0].strip().lower()
        if media_type not in HTML_TYPES:
            raise FetchError(f"{redact(response.url)}: verwacht een HTML-pagina, kreeg "
                             f"{content_type or 'geen content-type'}")
        # Web pages are often mislabelled: decode as the page declares, replacing bad bytes,
        # rather than refusing the page as the JSON APIs do.
        html = (response.text if isinstance(response, TextResponse)
                else response.body.decode("utf-8", errors="replace"))
        text, declared = extract(html, response.url)
        kept = self.keep(text)
        digest = sha256_hex(kept)
        key = f"page:{page_url}"
        if kept and self.state.get(key) != digest:
            yield PostItem(
                platform=self.platform,
                external_id=f"{page_id(page_url)}#{digest[:16]}",
                text=kept,  # verbatim: markup quoted in the page stays text, escaped on display
                capture=self.capture(response),
                url=response.url,
                created_at=declared or fetched_at,
                language=_language(response),
            )
        self.state_updates[key] = digest


def _language(response: Response) -> str | None:
    if not isinstance(response, TextResponse):
        return None
    lang = (response.xpath("/html/@lang").get() or "").split("-")[0].strip().lower()
    return lang if 2 <= len(lang) <= 3 and lang.isalpha() else None
