"""Screenshots in Debian's Chromium (`evidence.screenshot`) and the `evidence` job that makes one
for each new criminal/urgent post (`evidence.capture`): real pages on 127.0.0.1, a closed port for
the fallback, and the SSRF guard (a redirect or an embedded resource towards another private
host never reaches it)."""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

import scheduler
from evidence import ScreenshotFailed, capture_pending, take_screenshot
from evidence.screenshot import Screenshotter
from store.db import make_engine
from store.models import Capture, CaseEvent, Lease
from tests.helpers.evidence import PageServer, closed_port_url, install
from tests.helpers.fixtures import Env

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium package")


@pytest.fixture
def pages() -> Iterator[PageServer]:
    server = PageServer()
    yield server
    server.close()


@pytest.fixture
def elsewhere() -> Iterator[PageServer]:
    """Another private host: the page must never make the browser reach it."""
    server = PageServer()
    yield server
    server.close()


@pytest.fixture
def shooter() -> Iterator[Screenshotter]:
    with Screenshotter(chromium=CHROMIUM, timeout_seconds=15, allow_private=True) as browser:
        yield browser


def test_a_screenshot_can_be_taken_where_an_event_loop_runs(pages: PageServer) -> None:
    """Playwright's sync API refuses a thread with a running asyncio loop (a dashboard request
    handler, or a test session whose browser fixture is open): the browser gets its own thread."""
    url = f"{pages.base}/post/Die-meester-van-Verkruisen"

    async def inside_a_loop() -> bytes:
        with Screenshotter(chromium=CHROMIUM, timeout_seconds=15, allow_private=True) as browser:
            return browser.shoot(url).data

    shots: list[bytes] = []
    # A thread of its own: this one may already run a loop (the browser tests' Playwright).
    runner = threading.Thread(target=lambda: shots.append(asyncio.run(inside_a_loop())))
    runner.start()
    runner.join(timeout=120)
    assert shots and shots[0].startswith(b"\x89PNG")


def test_a_reachable_page_is_photographed(shooter: Screenshotter, pages: PageServer) -> None:
    url = f"{pages.base}/post/Die-juf-van-Verkruisen-is-een-heks"
    shot = shooter.shoot(url)
    image = Image.open(io.BytesIO(shot.data))
    assert image.format == "PNG" and image.width == 1280 and image.height >= 900
    assert shot.url == url and shot.status == 200
    # same host, redirected: followed, and the final address is recorded
    moved = shooter.shoot(f"{pages.base}/to/{url}")
    assert moved.url == url


def test_redirects_and_resources_towards_other_private_hosts_are_refused(
        shooter: Screenshotter, pages: PageServer, elsewhere: PageServer) -> None:
    with pytest.raises(ScreenshotFailed, match=r"niet-openbare adres 127\.0\.0\.1"):
        shooter.shoot(f"{pages.base}/to/{elsewhere.base}/post/geheim")
    shot = shooter.shoot(f"{pages.base}/embed/{elsewhere.base}")  # the page itself is fine
    assert shot.data.startswith(b"\x89PNG")
    with pytest.raises(ScreenshotFailed, match="geen http"):
        shooter.shoot(f"{pages.base}/to/file:///etc/passwd")
    assert elsewhere.hits == []  # neither the redirect nor the <img>/<script> reached it


def test_without_allow_private_a_loopback_page_is_refused_before_any_request(pages: PageServer) -> None:
    with pytest.raises(ScreenshotFailed, match=r"niet-openbare adres 127\.0\.0\.1"):
        take_screenshot(f"{pages.base}/post/x", chromium=CHROMIUM, timeout_seconds=10)
    assert pages.hits == []


def test_unreachable_missing_and_odd_pages_fail_with_a_reason(shooter: Screenshotter, pages: PageServer) -> None:
    with pytest.raises(ScreenshotFailed, match="verbinding geweigerd"):
        shooter.shoot(closed_port_url())
    with pytest.raises(ScreenshotFailed, match="HTTP 404"):
        shooter.shoot(f"{pages.base}/weg")
    with pytest.raises(ScreenshotFailed, match="geen http"):
        shooter.shoot("ftp://127.0.0.1/x")
    with pytest.raises(ScreenshotFailed, match="ontbreekt"):
        take_screenshot(f"{pages.base}/post/x", chromium=Path("/nonexistent/chromium"), allow_private=True)


def test_the_evidence_job_gives_each_new_flagged_post_an_image(env_any_db: Env, pages: PageServer) -> None:
    env = env_any_db
    inst = install(env)
    page = inst.seed("De juf van Verkruisen is een heks", author="a1", url=f"{pages.base}/post/juf-is-een-heks")
    down = inst.seed("De meester van Verkruisen is een sukkel", author="a2", url=closed_port_url())
    api = inst.seed("Ik steek die school van Verkruisen in de fik", author="a3", categories=["threat"],
                    platform="x", url=f"{pages.base}/post/x-bericht")
    negative = inst.seed("Verkruisen is een matige school", author="a4", categories=[])
    nothing = inst.seed("Leuk schoolfeest bij Verkruisen", author="a5", categories=[], sentiment="positive")

    report = capture_pending(inst.settings)
    assert (report.screenshots, report.renderings, report.failed) == (1, 2, 0)
    assert capture_pending(inst.settings).screenshots == 0  # nothing pending any more
    with env.session() as session:
        images = {c.post_id: c for c in session.execute(
            select(Capture).where(Capture.kind.in_(["screenshot", "rendering"]))).scalars()}
        events = {e.data["post_id"]: e for e in session.execute(
            select(CaseEvent).where(CaseEvent.action == "evidence_capture")).scalars()}
    assert set(images) == {page.post_id, down.post_id, api.post_id}
    assert negative.post_id not in images and nothing.post_id not in images
    shot = images[page.post_id]
    assert shot.kind == "screenshot" and shot.media_type == "image/png"
    assert shot.url == f"{pages.base}/post/juf-is-een-heks"
    assert (inst.settings.storage.dir / shot.path).read_bytes().startswith(b"\x89PNG")
    assert images[down.post_id].kind == "rendering" and images[api.post_id].kind == "rendering"
    assert "verbinding geweigerd" in events[down.post_id].data["reason"]
    assert "X" in events[api.post_id].data["reason"] and "inloggen" in events[api.post_id].note
    assert "/post/x-bericht" not in pages.hits  # the API post's page was not opened
    assert events[page.post_id].data["method"] == "chromium" and events[page.post_id].case_id == page.case_id


def test_the_scheduler_job_runs_under_its_lease(env: Env) -> None:
    inst = install(env, screenshots=False)
    seeded = inst.seed("Die juf van Verkruisen is een heks", url=None)
    outcomes: list[tuple[str, str]] = []
    engine = make_engine(inst.settings.database.url)
    scheduler._runtime = scheduler.Runtime(inst.settings, engine, threading.Event(),
                                           on_job=lambda job, outcome: outcomes.append((job, outcome)))
    try:
        scheduler.evidence_job()
        scheduler.evidence_job()
    finally:
        scheduler._runtime = None
        engine.dispose()
    assert outcomes == [("evidence", "screenshots 0, renderings 1, failed 0"),
                        ("evidence", "screenshots 0, renderings 0, failed 0")]
    with env.session() as session:
        lease = session.get(Lease, "job:evidence")
        assert lease is not None and lease.last_finished_at is not None and lease.last_error is None
        [image] = session.execute(select(Capture).where(Capture.post_id == seeded.post_id,
                                                        Capture.kind == "rendering")).scalars()
        assert image.url is None and image.size > 0
