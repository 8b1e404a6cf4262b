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
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response

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
        if retry_after is not None:
            if retry_after > self.max_retry_after:
                response.meta["retry_after_too_long"] = retry_after
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
    "is_public_address",
    "retry_after_seconds",
]
