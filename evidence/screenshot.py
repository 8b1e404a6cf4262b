"""Real screenshots of post pages in Debian's Chromium (Playwright; never a downloaded browser).

The page is untrusted: it may try to make the browser reach the school's own network (SSRF).
Every request the browser makes is routed through `_Guard`, which refuses anything but GET/HEAD
over http(s) to hosts that resolve to public addresses only (`crawlers.middlewares`, the guard
the crawlers use). Chromium follows redirects without asking the route again, so the guard
fetches each hop itself (`route.fetch(max_redirects=0)`), checks where it points and hands the
browser the final answer. WebSockets are answered by nobody, service workers are blocked and
WebRTC is removed before any page script runs.

With `allow_private` (an intranet forum; tests on 127.0.0.1) only the post's own host and port
may be private; whatever the page loads or redirects to elsewhere must still be public.

Known limit: Chromium resolves a host again after the guard did (a DNS answer that changes in
between, "DNS rebinding", is not caught), and `<link rel=preconnect>` may open a TCP connection
(no request is sent over it).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from crawlers.middlewares import host_port, is_public_address, resolve_addresses

VIEWPORT = {"width": 1280, "height": 900}
MAX_HEIGHT = 6000  # pixels of a full-page screenshot; longer pages are cut here
MAX_REDIRECTS = 5
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
# What a screenshot never needs: media streams, long-lived connections, prefetches.
BLOCKED_TYPES = ("media", "eventsource", "websocket", "manifest", "texttrack", "ping", "prefetch")
SETTLE_SECONDS = 3.0  # after `load`: time for scripts to draw the post (single-page apps)
_NO_WEBRTC = """(() => {
  for (const name of ['RTCPeerConnection', 'webkitRTCPeerConnection', 'RTCDataChannel']) {
    try { delete window[name]; } catch (e) {}
  }
})();"""


class ScreenshotFailed(Exception):
    """No screenshot; the message (Dutch) says why and goes into the report."""


@dataclass(frozen=True)
class Shot:
    data: bytes  # PNG
    url: str  # the page's final URL, after redirects
    status: int
    taken_at: datetime  # UTC, when the picture was taken


def refusal(url: str, *, allow_private: bool = False) -> str | None:
    """Why a screenshot of `url` is not even tried (Dutch), or None: checked before a browser starts."""
    return _refusal(url, trusted={host_port(url)} if allow_private else set())


def _refusal(url: str, *, trusted: set[tuple[str, int]]) -> str | None:
    """Why the browser may not fetch `url` (Dutch), or None when it may."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return f"geweigerd: {url[:200]} is geen http(s)-adres"
    target = host_port(url)
    if target in trusted:
        return None
    try:
        addresses = resolve_addresses(target[0])
    except (OSError, UnicodeError, ValueError):
        return f"onbekende host {target[0]}"
    if not addresses:
        return f"onbekende host {target[0]}"
    for address in addresses:
        if not is_public_address(address):
            return f"geweigerd: {url[:200]} wijst naar het niet-openbare adres {address}"
    return None


@dataclass
class _Guard:
    """The route handler: checks every request and every redirect hop (see module docstring)."""

    trusted: set[tuple[str, int]]
    deadline: float
    document: str  # the URL of the page itself
    refused: list[str] = field(default_factory=list)
    final_url: str = ""

    def __call__(self, route: Any, request: Any) -> None:
        if request.resource_type in BLOCKED_TYPES or request.method not in ("GET", "HEAD"):
            route.abort("blockedbyclient")
            return
        url = request.url
        is_page = request.is_navigation_request() and request.frame.parent_frame is None
        for _hop in range(MAX_REDIRECTS + 1):
            reason = _refusal(url, trusted=self.trusted)
            if reason is not None:
                if is_page:
                    self.refused.append(reason)
                route.abort("blockedbyclient")
                return
            remaining = self.deadline - time.monotonic()
            if remaining <= 0.05:
                route.abort("timedout")
                return
            try:
                response = route.fetch(url=url, max_redirects=0, timeout=remaining * 1000)
            except Exception as exc:  # Playwright raises its own Error for network failures
                if is_page:
                    self.refused.append(_network_reason(str(exc)))
                route.abort("failed")
                return
            location = response.headers.get("location")
            if response.status in REDIRECT_STATUSES and location:
                url = urljoin(url, location)
                continue
            if is_page:
                self.final_url = url
            route.fulfill(response=response)
            return
        if is_page:
            self.refused.append(f"meer dan {MAX_REDIRECTS} doorverwijzingen")
        route.abort("failed")


def _network_reason(message: str) -> str:
    lowered = message.lower()
    if "econnrefused" in lowered or "connection refused" in lowered:
        return "verbinding geweigerd"
    if "timeout" in lowered or "timed out" in lowered:
        return "geen antwoord binnen de tijdslimiet"
    if "enotfound" in lowered or "getaddrinfo" in lowered:
        return "onbekende host"
    first = message.strip().splitlines()[0] if message.strip() else "netwerkfout"
    return f"netwerkfout ({first[:160]})"


class Screenshotter:
    """One headless Chromium for a batch of screenshots: `with Screenshotter(...) as s: s.shoot(url)`.

    Playwright's sync API refuses to run in a thread with a running asyncio loop (the dashboard's
    event loop, or another sync Playwright in the same thread), and its objects belong to the
    thread that made them; so the browser lives in a thread of its own and every call is handed
    to that thread."""

    def __init__(self, *, chromium: Path, timeout_seconds: float, allow_private: bool = False) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="screenshotter")
        self._inner = _Browser(chromium=chromium, timeout_seconds=timeout_seconds, allow_private=allow_private)

    @property
    def allow_private(self) -> bool:
        return self._inner.allow_private

    def __enter__(self) -> Screenshotter:
        try:
            self._thread.submit(self._inner.open).result()
        except BaseException:
            self._thread.shutdown()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        try:
            self._thread.submit(self._inner.close).result()
        finally:
            self._thread.shutdown()

    def shoot(self, url: str) -> Shot:
        """A PNG of the page at `url` (viewport width, full page up to MAX_HEIGHT), or ScreenshotFailed."""
        return self._thread.submit(self._inner.shoot, url).result()


class _Browser:
    """The Playwright side of `Screenshotter`: used only from its thread."""

    def __init__(self, *, chromium: Path, timeout_seconds: float, allow_private: bool = False) -> None:
        self.chromium = chromium
        self.timeout = timeout_seconds
        self.allow_private = allow_private
        self._browser: Any = None

    def open(self) -> None:
        from playwright.sync_api import sync_playwright

        if not self.chromium.exists():
            raise ScreenshotFailed(f"geen browser: {self.chromium} ontbreekt")
        self._playwright = sync_playwright().start()
        try:
            self._browser = self._playwright.chromium.launch(
                executable_path=str(self.chromium), headless=True,
                args=["--force-webrtc-ip-handling-policy=disable_non_proxied_udp", "--disable-background-networking",
                      "--dns-prefetch-disable"])
        except Exception as exc:
            self._playwright.stop()
            raise ScreenshotFailed(f"de browser start niet ({str(exc).splitlines()[0][:160]})") from None

    def close(self) -> None:
        try:
            if self._browser is not None:
                self._browser.close()
        finally:
            self._playwright.stop()

    def shoot(self, url: str) -> Shot:
        """A PNG of the page at `url` (viewport width, full page up to MAX_HEIGHT), or ScreenshotFailed."""
        from playwright.sync_api import Error as PlaywrightError

        trusted = {host_port(url)} if self.allow_private else set()
        first = _refusal(url, trusted=trusted)
        if first is not None:
            raise ScreenshotFailed(first)
        guard = _Guard(trusted=trusted, deadline=time.monotonic() + self.timeout, document=url)
        context = self._browser.new_context(viewport=VIEWPORT, service_workers="block", accept_downloads=False,
                                            locale="nl-NL", timezone_id="Europe/Amsterdam", java_script_enabled=True)
        try:
            context.add_init_script(_NO_WEBRTC)
            context.route("**/*", guard)
            context.route_web_socket("**/*", lambda _ws: None)  # never connected to a server
            page = context.new_page()
            page.on("popup", lambda popup: popup.close())
            try:
                response = page.goto(url, wait_until="load", timeout=self.timeout * 1000)
            except PlaywrightError as exc:
                raise ScreenshotFailed(guard.refused[0] if guard.refused else _network_reason(str(exc))) from None
            if response is None:
                raise ScreenshotFailed("de pagina gaf geen antwoord")
            if response.status >= 400:
                raise ScreenshotFailed(f"de pagina antwoordde met HTTP {response.status}")
            self._settle(page, guard.deadline)
            data = self._png(page)
            return Shot(data=data, url=guard.final_url or url, status=response.status, taken_at=datetime.now(UTC))
        except PlaywrightError as exc:
            raise ScreenshotFailed(_network_reason(str(exc))) from None
        finally:
            context.close()

    @staticmethod
    def _settle(page: Any, deadline: float) -> None:
        from playwright.sync_api import Error as PlaywrightError

        wait = min(SETTLE_SECONDS, deadline - time.monotonic())
        if wait > 0.1:
            with contextlib.suppress(PlaywrightError):  # a page that keeps polling: take it as it is now
                page.wait_for_load_state("networkidle", timeout=wait * 1000)

    @staticmethod
    def _png(page: Any) -> bytes:
        height = page.evaluate("() => Math.max(document.documentElement.scrollHeight, document.body ? "
                               "document.body.scrollHeight : 0)")
        height = max(VIEWPORT["height"], min(int(height or 0), MAX_HEIGHT))
        data: bytes = page.screenshot(type="png", full_page=True,
                                      clip={"x": 0, "y": 0, "width": VIEWPORT["width"], "height": height},
                                      animations="disabled")
        return data


@contextmanager
def screenshotter(*, chromium: Path, timeout_seconds: float, allow_private: bool = False) -> Iterator[Screenshotter]:
    with Screenshotter(chromium=chromium, timeout_seconds=timeout_seconds, allow_private=allow_private) as shooter:
        yield shooter


def take_screenshot(url: str, *, chromium: Path = Path("/usr/bin/chromium"), timeout_seconds: float = 20,
                    allow_private: bool = False) -> Shot:
    """One screenshot in its own browser (see `Screenshotter` for a batch)."""
    with screenshotter(chromium=chromium, timeout_seconds=timeout_seconds, allow_private=allow_private) as shooter:
        return shooter.shoot(url)


__all__ = ["ScreenshotFailed", "Screenshotter", "Shot", "refusal", "screenshotter", "take_screenshot"]
