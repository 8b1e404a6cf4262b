"""Downloader middlewares: address guard (SSRF) and back-off for 429/5xx."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.robotstxt import (
    RobotsTxtMiddleware as ScrapyRobotsTxtMiddleware,
)
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.resolver import CachingThreadedResolver
from scrapy.robotstxt import RobotParser
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


# IPv6 addresses that carry an IPv4 address in their last 32 bits and reach it: through a NAT64
# gateway (64:ff9b::/96), as IPv4-compatible (::/96) or IPv4-translated (::ffff:0:0:0/96) addresses.
# Python calls them global whatever IPv4 address they carry, so 64:ff9b::a00:1 would reach 10.0.0.1.
_EMBEDDED_IPV4 = tuple(ipaddress.IPv6Network(n) for n in ("64:ff9b::/96", "::/96", "::ffff:0:0:0/96"))
# Local-use NAT64 prefixes (RFC 8215): translate into the site's own network by definition.
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")


def is_public_address(address: IPAddress) -> bool:
    """True only for globally routable unicast addresses (and IPv6 forms of those)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        elif address in _LOCAL_NAT64:
            return False
        else:
            embedded = address.sixtofour or next(
                (ipaddress.IPv4Address(int(address) & 0xFFFFFFFF) for n in _EMBEDDED_IPV4 if address in n), None)
            if embedded is not None and not is_public_address(embedded):
                return False
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
            addresses = []  # unresolvable: the download itself will fail with a DNS error
        for address in addresses:
            if not is_public_address(address):
                raise BlockedAddress(
                    f"geweigerd: {request.url} wijst naar het niet-openbare adres {address}"
                )
        GuardedResolver.guarded.add(host)  # the download's own lookup must agree
        return None

    def process_exception(self, request: Request, exception: Exception) -> None:
        """A download whose second lookup `GuardedResolver` refused: say so, not "unknown host"."""
        address = GuardedResolver.refused.get(host_port(request.url)[0])
        if address is not None:
            raise BlockedAddress(f"geweigerd: {request.url} wijst naar het niet-openbare adres {address}")
        return None


class GuardedResolver(CachingThreadedResolver):
    """Scrapy's DNS resolver, with the address guard applied to the address it hands the download.

    `AddressGuardMiddleware` resolves a host before the request goes out; the download resolves
    it again. A name whose answer changes in between (DNS rebinding: first a public address, then
    127.0.0.1) would pass the first check and connect to the second answer, so the answer the
    connection is made to is checked too, for every name the guard let through. Other names
    (a trusted `allow_private` host, a forward proxy from `http_proxy`) resolve as usual.
    """

    guarded: ClassVar[set[str]] = set()  # names the guard let through (this process: one crawl)
    refused: ClassVar[dict[str, str]] = {}  # name -> the non-public address it answered here

    def getHostByName(self, name: str, timeout: Any = ()) -> Deferred[str]:
        answer: Deferred[str] = super().getHostByName(name, timeout)
        return answer.addCallback(self._checked, name)

    def _checked(self, result: str, name: str) -> str:
        if name.lower() not in self.guarded:
            return result
        address = ipaddress.ip_address(result.split("%")[0])
        if not is_public_address(address):
            # Twisted reports any failed lookup as "no results": the guard's process_exception
            # turns that back into this reason.
            self.refused[name.lower()] = str(address)
            raise BlockedAddress(f"geweigerd: {name} wijst naar het niet-openbare adres {address}")
        return result


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
    "GuardedResolver",
    "RobotsTxtMiddleware",
    "is_public_address",
    "rate_limit_reset_seconds",
    "retry_after_seconds",
]
