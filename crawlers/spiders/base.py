"""What every spider shares: error recording, JSON/XML decoding, captures, cursors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import scrapy
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.error import ConnectionRefusedError as TxConnectionRefused
from twisted.internet.error import DNSLookupError
from twisted.internet.error import TimeoutError as TxTimeoutError
from twisted.python.failure import Failure

from crawlers.items import RawCapture
from crawlers.middlewares import host_port
from schoolwacht.errors import FetchError
from store.config import SchoolSettings, Settings, SourceSettings

# Query parameters that carry secrets; never written to logs or last_error.
_SECRET_PARAMS = {"key", "access_token", "token", "api_key", "apikey", "password"}


def redact(url: str) -> str:
    parts = urlsplit(url)
    query = [(k, "***" if k.lower() in _SECRET_PARAMS else v)
             for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(query=urlencode(query, safe="*")))


def parse_time(value: str | None) -> datetime | None:
    """An ISO-8601 timestamp as aware UTC, or None."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def newest_id(a: str | None, b: str | None) -> str | None:
    """The later of two numeric string ids (Mastodon, X): longer is larger, then lexical."""
    if a is None or b is None:
        return a or b
    return a if (len(a), a) >= (len(b), b) else b


def describe_failure(failure: Failure) -> str:
    """A short Dutch description of why a request failed, for `Source.last_error`."""
    error = failure.value
    request = getattr(failure, "request", None)
    url = redact(request.url) if request is not None else ""
    if isinstance(error, HttpError):
        response = error.response
        url = redact(response.url)
        too_long = response.meta.get("retry_after_too_long")
        if too_long is not None:
            return (f"{url}: HTTP {response.status}, de server vraagt {too_long:.0f} s te wachten "
                    f"(langer dan toegestaan); volgende ronde opnieuw")
        return f"{url}: HTTP {response.status}"
    if isinstance(error, DownloadCancelledError):
        return f"{url}: antwoord te groot of afgebroken ({error})"
    if isinstance(error, DownloadTimeoutError | TxTimeoutError):
        return f"{url}: geen antwoord binnen de tijdslimiet"
    if isinstance(error, CannotResolveHostError | DNSLookupError):
        return f"{url}: onbekende host"
    if isinstance(error, DownloadConnectionRefusedError | TxConnectionRefused):
        return f"{url}: verbinding geweigerd"
    if isinstance(error, ResponseDataLossError):
        return f"{url}: verbinding halverwege verbroken"
    if isinstance(error, IgnoreRequest):
        if str(error) == "max redirections reached" and request is not None:  # Scrapy's RedirectMiddleware
            first = redact((request.meta.get("redirect_urls") or [request.url])[0])
            hops = request.meta.get("redirect_times", 0)
            return f"{first}: meer dan {hops} doorverwijzingen (een kringloop?)"
        return str(error) or f"{url}: verzoek overgeslagen"
    return f"{url}: {type(error).__name__}: {error}"


class SourceSpider(scrapy.Spider):
    """Base for one spider per source kind; one crawl crawls one configured source."""

    kind: ClassVar[str]
    platform: ClassVar[str]

    def __init__(self, *, source: SourceSettings, source_id: int, school_id: int,
                 school: SchoolSettings, state: dict[str, Any], settings_obj: Settings,
                 **kwargs: Any) -> None:
        super().__init__(name=f"{self.kind}:{source.name}", **kwargs)
        self.source = source
        self.source_id = source_id
        self.school_id = school_id
        self.new_posts = 0
        self.school = school
        self.state: dict[str, Any] = dict(state)
        self.settings_obj = settings_obj
        self.errors: list[str] = []
        # Cursor values to store when the crawl ends; set per endpoint only once its pages
        # were all processed, so a failed or killed crawl re-reads rather than skips.
        self.state_updates: dict[str, Any] = {}
        self.trusted_hosts = (
            {host_port(url) for url in self.configured_urls()} if source.allow_private else set()
        )
        self.max_pages = settings_obj.crawl.max_pages

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> SourceSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._on_spider_error, signal=signals.spider_error)
        return spider

    # -- to implement -------------------------------------------------------------------
    def configured_urls(self) -> list[str]:
        """Every URL (or base URL) the operator configured for this source."""
        return [getattr(self.source, "base_url")]  # noqa: B009

    async def start(self) -> AsyncIterator[Any]:
        for request in self.initial_requests():
            yield request

    def initial_requests(self) -> list[scrapy.Request]:
        raise NotImplementedError

    # -- helpers ------------------------------------------------------------------------
    def request(self, url: str, callback: Callable[..., Any], *, headers: dict[str, str] | None = None,
                cb_kwargs: dict[str, Any] | None = None, method: str = "GET",
                body: bytes | str | None = None, meta: dict[str, Any] | None = None
                ) -> scrapy.Request:
        return scrapy.Request(url, callback=callback, errback=self.on_error, headers=headers,
                              cb_kwargs=cb_kwargs or {}, method=method, body=body,
                              meta=meta or {}, dont_filter=True)

    def on_error(self, failure: Failure) -> None:
        self.record_error(describe_failure(failure))

    def record_error(self, message: str) -> None:
        self.logger.warning("%s", message)
        self.errors.append(message)

    def _on_spider_error(self, failure: Failure, response: Response, spider: scrapy.Spider) -> None:
        if spider is not self:
            return
        error = failure.value
        if isinstance(error, FetchError):
            self.record_error(str(error))
        else:
            self.record_error(f"{redact(response.url)}: interne fout {type(error).__name__}: {error}")

    def capture(self, response: Response) -> RawCapture:
        content_type = response.headers.get(b"Content-Type", b"").decode("latin-1") or None
        return RawCapture(body=response.body, url=redact(response.url), media_type=content_type)

    def load_json(self, response: Response) -> Any:
        """The JSON body, or FetchError naming what is wrong with it."""
        url = redact(response.url)
        content_type = response.headers.get(b"Content-Type", b"").decode("latin-1").lower()
        if "json" not in content_type:
            raise FetchError(f"{url}: verwacht JSON, kreeg {content_type or 'geen content-type'}")
        try:
            text = response.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FetchError(f"{url}: ongeldige UTF-8 op byte {exc.start}") from None
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise FetchError(f"{url}: ongeldige JSON (regel {exc.lineno}, kolom {exc.colno})") from None

    def expect(self, condition: bool, response: Response, what: str) -> None:
        """Fail with a clear message when a response does not have the documented shape."""
        if not condition:
            raise FetchError(f"{redact(response.url)}: onverwacht antwoord ({what})")


__all__ = ["SourceSpider", "describe_failure", "newest_id", "parse_time", "redact"]
