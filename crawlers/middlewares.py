"""Downloader middlewares: address guard (SSRF) and back-off for 429/5xx."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.robotstxt import (
    RobotsTxtMiddleware as ScrapyRobotsTxtMiddleware,
)
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.robotstxt import RobotParser
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_public_address(address: IPAddress) -> bool:
    """True only for globally routable unicast addresses."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return host, port


def resolve_addresses(host: str) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


class BlockedAddress(IgnoreRequest):
    """A request to a private, loopback or link-local address was refused."""


class AddressGuardMiddleware:
    """Refuses requests (redirects included) to non-public addresses.

    Only the hosts the operator configured for a source with `allow_private = true` may be
    private (an intranet page, or a test server on 127.0.0.1); anything a response sends us
    to, by redirect or link, must resolve to public addresses only.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> AddressGuardMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        trusted: set[tuple[str, int]] = getattr(self.crawler.spider, "trusted_hosts", set())
        target = host_port(request.url)
        if target in trusted:
            return None
        host = target[0]
        try:
            addresses = resolve_addresses(host)
        except (OSError, UnicodeError):
            return None  # unresolvable: the download itself will fail with a DNS error
        for address in addresses:
            if not is_public_address(address):
                raise BlockedAddress(
                    f"geweigerd: {request.url} wijst naar het niet-openbare adres {address}"
                )
        return None


class RobotsTxtMiddleware(ScrapyRobotsTxtMiddleware):
    """Scrapy's robots.txt middleware, fixed so that every waiting request gets the rules.

    Since Scrapy 2.13 each request that arrives while robots.txt is still being fetched
    awaits the one shared Deferred. Turning a Deferred into an asyncio Future consumes its
    result, so only the first waiter got the parser and every later one got None, which
    means "allowed": with three configured pages on one site, the third ignored robots.txt.
    Each waiter gets its own Deferred here, as in Scrapy before 2.13.
    """

    async def robot_parser(self, request: Request) -> RobotParser | None:
        pending = self._parsers.get(urlparse_cached(request).netloc)
        if not isinstance(pending, Deferred):
            return await super().robot_parser(request)
        waiter: Deferred[RobotParser | None] = Deferred()

        def relay(parser: RobotParser | None) -> RobotParser | None:
            waiter.callback(parser)
            return parser  # passed on unchanged to the next waiter

        pending.addCallback(relay)
        return await maybe_deferred_to_future(waiter)


def retry_after_seconds(value: bytes | str | None, *, now: float | None = None) -> float | None:
    """Parse a Retry-After header: delta-seconds or an HTTP date. None when unusable."""
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def rate_limit_reset_seconds(headers: Any, *, now: float | None = None) -> float | None:
    """Seconds until a rate-limit window reopens, from the epoch-seconds reset headers.

    X (`x-rate-limit-reset`) and Bluesky (`ratelimit-reset`) answer 429 without Retry-After
    and name the second their window reopens instead. One second of slack covers a clock
    that runs slightly behind theirs; None when neither header is usable.
    """
    for name in (b"x-rate-limit-reset", b"ratelimit-reset"):
        raw = headers.get(name)
        text = raw.decode("latin-1").strip() if isinstance(raw, bytes) else ""
        if text.isdigit():
            return max(0.0, float(text) + 1.0 - (time.time() if now is None else now))
    return None


class BackoffMiddleware:
    """Retries 429 and 5xx with exponential back-off, honouring `Retry-After`.

    Scrapy's own RetryMiddleware retries at once and ignores Retry-After, which hammers a
    server that asked us to wait. A Retry-After longer than the configured maximum gives up:
    the response then reaches the spider's errback and becomes the source's last_error.
    """

    def __init__(self, *, retries: int, backoff: float, max_retry_after: float) -> None:
        self.retries = retries
        self.backoff = backoff
        self.max_retry_after = max_retry_after

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BackoffMiddleware:
        s = crawler.settings
        return cls(
            retries=s.getint("RETRY_TIMES"),
            backoff=s.getfloat("SCHOOLWACHT_BACKOFF_SECONDS"),
            max_retry_after=s.getfloat("SCHOOLWACHT_MAX_RETRY_AFTER"),
        )

    async def process_response(self, request: Request, response: Response) -> Any:
        if response.status != 429 and response.status < 500:
            return response
        attempt = int(request.meta.get("backoff_attempt", 0))
        if attempt >= self.retries:
            return response
        delay = self.backoff * (2**attempt)
        retry_after = retry_after_seconds(response.headers.get(b"Retry-After"))
        if retry_after is None and response.status == 429:
            retry_after = rate_limit_reset_seconds(response.headers)
        if retry_after is not None:
            if retry_after > self.max_retry_after:
                # response.meta is not readable yet inside a downloader middleware (the
                # response is tied to its request later); it reads request.meta then.
                request.meta["retry_after_too_long"] = retry_after
                return response
            delay = max(delay, retry_after) if response.status != 429 else retry_after
        logger.info("HTTP %s for %s: retry %d in %.1f s", response.status, request.url,
                    attempt + 1, delay)
        await asyncio.sleep(delay)
        retry = request.replace(dont_filter=True)
        retry.meta["backoff_attempt"] = attempt + 1
        return retry


__all__ = [
    "AddressGuardMiddleware",
    "BackoffMiddleware",
    "BlockedAddress",
    "RobotsTxtMiddleware",
    "is_public_address",
    "rate_limit_reset_seconds",
    "retry_after_seconds",
]
