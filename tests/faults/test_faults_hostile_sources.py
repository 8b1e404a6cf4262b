"""Hostile sources, crawled for real (`python -m crawlers.run`).

tests/test_crawlers_bad_input.py proves each failure gives a clear error on a fresh source.
Here the service-level invariants: the source breaks on its second page; the crawl must end
within its limits, without a crash, with a clear `last_error`, keeping the posts of page 1
exactly once and leaving the cursor where it was; once the server behaves again, the next
crawl stores every post of the source exactly once and moves the cursor to the newest post.

The redirects towards private addresses come from a source on a public address that is not
`allow_private` (reached through the fake server as HTTP proxy, see conftest); the other
faults come from the fake server's own address.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.faults.helpers import (
    MASTODON_BASE_ID,
    PUBLIC_HOST,
    assert_posts_once,
    local_source,
    newest_cursor,
    proxy_env,
    public_source,
    source_row,
    switch_fault,
    tag_statuses,
)
from tests.helpers.fixtures import Env
from tests.helpers.mockstats import request_log

TOTAL = 100  # three pages of 40, 40 and 20 statuses; 66 name the school
PAGE_1 = {f"https://school.social/users/ouder7/statuses/{MASTODON_BASE_ID + i}"
          for i in range(TOTAL - 39, TOTAL + 1) if i % 3 != 1}  # the newest 40, those naming the school
TIMEOUT = 2  # [crawl] timeout_seconds: each try of a request, then give up


def _setup(env: Env, mockserver: str, *, public: bool = False) -> tuple[str, str]:
    """A fresh source `bron` on the `faulty` platform; returns its token and base URL."""
    token = f"f{uuid.uuid4().hex[:12]}"
    if public:
        env.extra_env = proxy_env(mockserver)
        source = public_source(token)
    else:
        source = local_source(mockserver, token)
    env.write([source], crawl={"timeout_seconds": TIMEOUT})
    switch_fault(mockserver, token, "ok", total=TOTAL)
    return token, source["base_url"]


def _crawl(env: Env) -> tuple[int, str, float]:
    started = time.monotonic()
    result = env.crawl("bron", timeout=120)
    elapsed = time.monotonic() - started
    # Nothing crashes: the crawl ran to its end and printed its summary line (Scrapy's own log
    # may hold the traceback of a callback error: that is logging, not a crash).
    assert result.stdout.startswith("bron: ") and " new posts" in result.stdout, result.stderr[-3000:]
    return result.returncode, result.stdout + result.stderr, elapsed


def _page_2_requests(mockserver: str, token: str) -> list[tuple[float, str]]:
    return [(t, p) for t, p in request_log(mockserver, f"faulty/{token}") if "max_id=" in p]


def _assert_failed_keeping_page_1(env: Env, returncode: int, output: str, expected_error: str) -> str:
    assert returncode == 1, output[-3000:]
    source = source_row(env, "bron")
    assert source.last_error is not None and expected_error in source.last_error, source.last_error
    assert source.last_error_at is not None
    assert source.state == {}  # the cursor did not move: the next crawl reads every page again
    assert_posts_once(env, PAGE_1, "bron")  # what page 1 brought is kept, once
    return source.last_error


def _assert_recovers(env: Env, mockserver: str, token: str) -> None:
    switch_fault(mockserver, token, "ok")
    returncode, output, _ = _crawl(env)
    assert returncode == 0, output[-3000:]
    source = source_row(env, "bron")
    assert source.last_error is None
    assert source.state == newest_cursor(TOTAL)
    assert source.last_new_posts == len(tag_statuses(TOTAL)) - len(PAGE_1)
    assert_posts_once(env, tag_statuses(TOTAL))


@pytest.mark.parametrize(("mode", "expected_error"), [
    ("garbage", "ongeldige UTF-8 op byte 1"),
    ("huge", "antwoord te groot"),  # 20 MB against the production cap of 5 MB
])
def test_broken_body_fails_cleanly_and_the_next_crawl_completes(env: Env, mockserver: str, mode: str,
                                                                 expected_error: str) -> None:
    token, base = _setup(env, mockserver)
    switch_fault(mockserver, token, mode, from_page=2)
    returncode, output, _ = _crawl(env)
    error = _assert_failed_keeping_page_1(env, returncode, output, expected_error)
    assert error.startswith(f"{base}/api/v1/timelines/tag/verkruisen?")
    _assert_recovers(env, mockserver, token)


def test_server_that_dribbles_one_byte_a_second_is_given_up_within_the_timeout(env: Env,
                                                                                mockserver: str) -> None:
    token, _ = _setup(env, mockserver)
    switch_fault(mockserver, token, "dribble", from_page=2)
    returncode, output, elapsed = _crawl(env)
    _assert_failed_keeping_page_1(env, returncode, output, "geen antwoord binnen de tijdslimiet")
    tries = _page_2_requests(mockserver, token)
    assert len(tries) == 3  # retries = 2: three tries of TIMEOUT seconds each
    # The answer would take 602 s; the timeout is for the whole answer, not between bytes.
    assert tries[-1][0] - tries[0][0] < 2 * (TIMEOUT + 2)
    assert elapsed < 3 * TIMEOUT + 20
    _assert_recovers(env, mockserver, token)


def test_endless_redirects_are_cut_off(env: Env, mockserver: str) -> None:
    token, base = _setup(env, mockserver)
    switch_fault(mockserver, token, "loop", from_page=2)
    returncode, output, _ = _crawl(env)
    error = _assert_failed_keeping_page_1(env, returncode, output, "doorverwijzingen")
    # Named by the URL the crawl asked for, not the last hop.
    assert error == (f"{base}/api/v1/timelines/tag/verkruisen?limit=40&"
                     f"max_id={MASTODON_BASE_ID + 61}: meer dan 5 doorverwijzingen (een kringloop?)")
    hops = _page_2_requests(mockserver, token)
    assert len(hops) == 6  # the request and REDIRECT_MAX_TIMES = 5 redirects, then stop
    _assert_recovers(env, mockserver, token)


def test_429_with_retry_after_within_the_cap_is_waited_for(env: Env, mockserver: str) -> None:
    token, _ = _setup(env, mockserver)  # max_retry_after_seconds = 5 (tests.helpers.fixtures)
    switch_fault(mockserver, token, "retry-after:2", from_page=2)
    returncode, output, _ = _crawl(env)
    assert returncode == 0, output[-3000:]
    assert source_row(env, "bron").last_error is None
    assert source_row(env, "bron").state == newest_cursor(TOTAL)
    assert_posts_once(env, tag_statuses(TOTAL))
    first = [t for t, p in _page_2_requests(mockserver, token) if p.endswith(f"max_id={MASTODON_BASE_ID + 61}")]
    assert len(first) == 2  # 429, then the one retry
    assert first[1] - first[0] >= 2.0  # measured by the server


def test_429_with_retry_after_beyond_the_cap_gives_up_at_once(env: Env, mockserver: str) -> None:
    token, _ = _setup(env, mockserver)
    switch_fault(mockserver, token, "retry-after:6", from_page=2)  # the cap is 5 s
    returncode, output, elapsed = _crawl(env)
    _assert_failed_keeping_page_1(env, returncode, output,
                                  "HTTP 429, de server vraagt 6 s te wachten (langer dan toegestaan)")
    assert len(_page_2_requests(mockserver, token)) == 1  # neither waited nor hammered
    assert elapsed < 20
    _assert_recovers(env, mockserver, token)


# -- a source on a public address, and its redirects towards private addresses ----------------------
def test_a_public_source_behind_the_schools_http_proxy_is_crawled(env: Env, mockserver: str) -> None:
    # The positive control of the redirect tests below: a source that is not allow_private, on a
    # public address, crawled through an HTTP proxy on a private address (as a school's proxy is).
    token, _ = _setup(env, mockserver, public=True)
    returncode, output, _ = _crawl(env)
    assert returncode == 0, output[-3000:]
    assert source_row(env, "bron").last_error is None
    assert_posts_once(env, tag_statuses(TOTAL))
    # The fake server saw proxy requests: absolute URLs naming the public host.
    assert all(p.startswith(f"http://{PUBLIC_HOST}/faulty/{token}/")
               for _, p in request_log(mockserver, f"faulty/{token}") if "/api/" in p)


class _Canary(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        _Canary.hits.append(self.path)
        body = b"<html><body>BM Verkruisen geheim</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def canary() -> Iterator[int]:
    """A listener on 127.0.0.1 that records every request: a redirect there must not reach it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Canary)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("target", ["127.0.0.1", "169.254.169.254"])
def test_redirect_from_a_public_source_to_a_private_address_is_refused(env: Env, mockserver: str, canary: int,
                                                                      target: str) -> None:
    token, _ = _setup(env, mockserver, public=True)
    host_port = f"127.0.0.1:{canary}" if target == "127.0.0.1" else "169.254.169.254:80"
    switch_fault(mockserver, token, f"redirect:{host_port.replace(':', '_')}", from_page=2)
    _Canary.hits.clear()
    returncode, output, _ = _crawl(env)
    error = _assert_failed_keeping_page_1(env, returncode, output, f"wijst naar het niet-openbare adres {target}")
    assert error.startswith(f"geweigerd: http://{host_port}/faulty/{token}/geheim")
    # Fetched neither directly nor through the proxy.
    assert _Canary.hits == []
    assert not [p for _, p in request_log(mockserver, f"faulty/{token}") if "/geheim" in p]
    _assert_recovers(env, mockserver, token)
