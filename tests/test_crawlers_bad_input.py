"""Hostile and broken servers: every failure is recorded clearly and contained.

Each test crawls a bad source and then a good one, both as the scheduler and the CLI do it
(`crawlers.process.run_crawl_process`, one subprocess per crawl). The bad crawl must exit 1
with a clear Dutch `last_error`, store nothing (no posts, no capture files) and leave its
cursor where it was; the good crawl after it must still store its posts.
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from crawlers.process import CrawlResult, run_crawl_process
from store.config import CrawlSettings
from store.models import Source
from tests.helpers.fixtures import ROOT, Env
from tests.helpers.mockstats import (
    capture_files,
    captures,
    paths,
    posts_of,
    request_log,
    source_row,
)

BASE_ID = 109_000_000_000_000_000
GOOD_POSTS = 6  # mastodon/n10: statuses 1..10, those with i % 3 != 1 name the school
CURSOR = str(BASE_ID + 5)


def _tag() -> str:
    # A fresh hashtag per test: the fake server counts requests per path for the whole
    # session, so "429 once, then OK" must not see another test's requests.
    return f"t{uuid.uuid4().hex[:10]}"


def _good() -> dict[str, Any]:
    return {"name": "good", "kind": "mastodon", "hashtags": ["verkruisen"]}


def _setup(env: Env, mockserver: str, bad: dict[str, Any],
           state: dict[str, Any] | None = None) -> None:
    good = {**_good(), "base_url": f"{mockserver}/mastodon/n10"}
    env.write([bad, good])
    if state is not None:
        with env.session() as session:
            row = session.execute(select(Source).where(Source.name == "bad")).scalar_one()
            row.state = state
            session.add(row)


def _mastodon(mockserver: str, scenario: str, tag: str) -> dict[str, Any]:
    return {"name": "bad", "kind": "mastodon", "base_url": f"{mockserver}/mastodon/{scenario}",
            "hashtags": [tag]}


def _crawl(env: Env, name: str) -> CrawlResult:
    return run_crawl_process(env.settings(), name, timeout=120, cwd=ROOT)


def _crawl_bad_then_good(env: Env) -> CrawlResult:
    bad = _crawl(env, "bad")
    good = _crawl(env, "good")
    assert good.returncode == 0, good.output
    assert len(posts_of(env, "good")) == GOOD_POSTS
    assert source_row(env, "good").last_error is None
    return bad


def _assert_failed_cleanly(env: Env, result: CrawlResult, expected_error: str,
                           state: dict[str, Any]) -> str:
    assert result.returncode == 1, result.output
    source = source_row(env, "bad")
    assert source.last_error is not None and expected_error in source.last_error, \
        source.last_error
    assert source.last_error_at is not None
    assert source.state == state  # the cursor did not move
    assert posts_of(env, "bad") == []
    # No orphans: every capture file on disk belongs to a stored (good) post, and back.
    stored = {c.path for c in captures(env)}
    on_disk = {p.relative_to(env.path / "storage").as_posix() for p in capture_files(env)}
    assert on_disk == stored
    assert len(captures(env)) == GOOD_POSTS
    return source.last_error


@pytest.mark.parametrize(("scenario", "expected"), [
    ("garbage", "ongeldige UTF-8 op byte 1"),
    ("truncated", "ongeldige JSON (regel 1, kolom"),
    ("badutf8", "ongeldige UTF-8 op byte 28"),
    ("wrongtype", "verwacht JSON, kreeg text/html"),
])
def test_malformed_body_gives_clear_error(env: Env, mockserver: str, scenario: str,
                                          expected: str) -> None:
    tag = _tag()
    state = {f"tag:{tag}": CURSOR}
    _setup(env, mockserver, _mastodon(mockserver, scenario, tag), state)
    error = _assert_failed_cleanly(env, _crawl_bad_then_good(env), expected, state)
    assert error.startswith(f"{mockserver}/mastodon/{scenario}/api/v1/timelines/tag/{tag}?")


def test_body_over_the_download_cap_is_refused(env: Env, mockserver: str) -> None:
    # The production cap, not a lowered one, refuses the 20 MB answer.
    assert CrawlSettings().max_download_bytes == 5 * 1024 * 1024
    tag = _tag()
    state = {f"tag:{tag}": CURSOR}
    _setup(env, mockserver, _mastodon(mockserver, "huge", tag), state)
    assert "max_download_bytes" not in env.config_file.read_text()
    _assert_failed_cleanly(env, _crawl_bad_then_good(env), "antwoord te groot", state)


def test_server_that_never_answers_times_out(env: Env, mockserver: str) -> None:
    tag = _tag()
    state = {f"tag:{tag}": CURSOR}
    _setup(env, mockserver, _mastodon(mockserver, "stall", tag), state)
    started = time.monotonic()
    bad = _crawl(env, "bad")
    elapsed = time.monotonic() - started
    good = _crawl(env, "good")
    assert good.returncode == 0 and len(posts_of(env, "good")) == GOOD_POSTS
    _assert_failed_cleanly(env, bad, "geen antwoord binnen de tijdslimiet", state)
    # timeout_seconds = 5 and retries = 2 in the test config: three tries, then give up.
    tries = [p for p in paths(mockserver, "mastodon/stall") if f"/tag/{tag}?" in p]
    assert len(tries) == 3
    assert 15 <= elapsed < 30


def test_429_with_short_retry_after_is_honoured(env: Env, mockserver: str) -> None:
    tag = _tag()
    _setup(env, mockserver, _mastodon(mockserver, "ratelimited", tag))
    bad = _crawl(env, "bad")
    assert bad.returncode == 0, bad.output
    assert source_row(env, "bad").last_error is None
    assert len(posts_of(env, "bad")) == 66  # 100 statuses, the fake's default
    log = [(t, p) for t, p in request_log(mockserver, "mastodon/ratelimited") if f"/{tag}?" in p]
    first_page = [t for t, p in log if p.endswith(f"/tag/{tag}?limit=40")]
    assert len(first_page) == 2  # 429, then the retry
    assert first_page[1] - first_page[0] >= 1.0  # Retry-After: 1, measured by the server


def test_429_with_retry_after_beyond_the_maximum_gives_up(env: Env, mockserver: str) -> None:
    tag = _tag()
    state = {f"tag:{tag}": CURSOR}
    _setup(env, mockserver, _mastodon(mockserver, "ratelimitedlong", tag), state)
    error = _assert_failed_cleanly(env, _crawl_bad_then_good(env),
                                   "HTTP 429, de server vraagt 86400 s te wachten", state)
    assert "langer dan toegestaan" in error
    tries = [p for p in paths(mockserver, "mastodon/ratelimitedlong") if f"/tag/{tag}?" in p]
    assert len(tries) == 1  # no waiting a day, no hammering either


def test_5xx_then_success_is_retried_with_backoff(env: Env, mockserver: str) -> None:
    tag = _tag()
    _setup(env, mockserver, _mastodon(mockserver, "flaky", tag))
    bad = _crawl(env, "bad")
    assert bad.returncode == 0, bad.output
    assert len(posts_of(env, "bad")) == 66
    assert source_row(env, "bad").state == {f"tag:{tag}": str(BASE_ID + 100)}
    log = request_log(mockserver, "mastodon/flaky")
    first_page = [t for t, p in log if p.endswith(f"/tag/{tag}?limit=40")]
    assert len(first_page) == 3  # 503, 503, 200
    # backoff_seconds = 0.1 in the test config, doubling per attempt.
    assert first_page[1] - first_page[0] >= 0.1
    assert first_page[2] - first_page[1] >= 0.2


def test_5xx_that_persists_gives_up_after_the_retries(env: Env, mockserver: str) -> None:
    tag = _tag()
    state = {f"tag:{tag}": CURSOR}
    _setup(env, mockserver, _mastodon(mockserver, "down", tag), state)
    _assert_failed_cleanly(env, _crawl_bad_then_good(env), "HTTP 500", state)
    tries = [p for p in paths(mockserver, "mastodon/down") if f"/tag/{tag}?" in p]
    assert len(tries) == 3  # retries = 2


def test_web_page_with_wrong_content_type_gives_clear_error(env: Env, mockserver: str) -> None:
    page = f"{mockserver}/web/{_tag()}/feed.json"
    state = {f"page:{page}": "0" * 64}
    _setup(env, mockserver, {"name": "bad", "kind": "web", "urls": [page]}, state)
    _assert_failed_cleanly(env, _crawl_bad_then_good(env),
                           f"{page}: verwacht een HTML-pagina, kreeg application/json", state)


# -- redirects to private addresses -----------------------------------------------------------

class _Canary(BaseHTTPRequestHandler):
    """Records any request: proves nothing was fetched from where a redirect pointed."""

    hits: list[str] = []

    def do_GET(self) -> None:
        _Canary.hits.append(f"{self.server.server_address[0]} {self.path}")
        body = b"<html><body><p>BM Verkruisen geheim</p></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _V6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


@pytest.fixture(scope="module")
def canaries() -> Iterator[dict[str, str]]:
    """Listeners on 127.0.0.2, 127.0.0.1 (localhost) and [::1]: redirect target -> host_port."""
    servers = [ThreadingHTTPServer(("127.0.0.2", 0), _Canary),
               ThreadingHTTPServer(("127.0.0.1", 0), _Canary),
               _V6Server(("::1", 0), _Canary)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    ports = [s.server_address[1] for s in servers]
    # Positive control: each canary answers and records, so "no hits" below means something.
    for url in (f"http://127.0.0.2:{ports[0]}/", f"http://127.0.0.1:{ports[1]}/",
                f"http://[::1]:{ports[2]}/"):
        urllib.request.urlopen(url, timeout=5).read()
    assert len(_Canary.hits) == 3
    targets = {"127.0.0.2": f"127.0.0.2_{ports[0]}", "localhost": f"localhost_{ports[1]}",
               "::1": f"[::1]_{ports[2]}", "169.254.169.254": "169.254.169.254_80"}
    yield targets
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("target", "address"), [
    ("127.0.0.2", "127.0.0.2"),
    ("localhost", "127.0.0.1"),
    ("::1", "::1"),
    ("169.254.169.254", "169.254.169.254"),
])
def test_redirect_to_a_private_address_is_refused(env: Env, mockserver: str,
                                                  canaries: dict[str, str], target: str,
                                                  address: str) -> None:
    # The configured host (127.0.0.1:PORT, allow_private) is trusted; where it redirects
    # to is not, even though it is just as local.
    page = f"{mockserver}/web/redirect-{canaries[target]}/pagina"
    state = {f"page:{page}": "0" * 64}
    _Canary.hits.clear()
    _setup(env, mockserver, {"name": "bad", "kind": "web", "urls": [page]}, state)
    error = _assert_failed_cleanly(env, _crawl_bad_then_good(env),
                                   f"wijst naar het niet-openbare adres {address}", state)
    assert error.startswith("geweigerd: http://")
    assert _Canary.hits == []
