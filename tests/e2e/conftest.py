"""End-to-end fixtures: a live dashboard on 127.0.0.1 and Debian's Chromium driven by Playwright.

`live` is a configured installation (SQLite in a temp dir, one disabled Mastodon source, an
admin, a director and two staff accounts) whose dashboard runs with uvicorn in a thread on a
free port (`dashboard.app.serve_in_thread`, exactly what `schoolwacht run` uses). `page` is a
fresh browser context on it that watches for trouble: console errors (CSP violations included),
uncaught page errors, server errors (5xx), stylesheets or images that failed to load (4xx; the
favicon, which the dashboard does not have, excepted) and JavaScript dialogs. A test fails when
any of these came from our own pages. `assert_no_inline` checks a page for inline script, inline
style, event-handler attributes and `javascript:` URLs. The browser is `/usr/bin/chromium` (the
Debian package that `.ci/run` installs); Playwright never downloads one. Without it the tests
skip locally and fail in CI.

Screenshots of the main pages go to `test-artifacts/screenshots/` in the repository root.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, Response, sync_playwright
from sqlalchemy import select

from classifier.labels import severity_for
from dashboard.app import serve_in_thread
from store.cases import open_or_join_case
from store.classifications import add_classification
from store.config import Settings
from store.files import store_blob
from store.models import Post, Source
from store.posts import NewPost, insert_posts
from store.sources import get_school
from store.types import utcnow
from tests.helpers.fixtures import ROOT, SCHOOL, Env
from tests.helpers.web import PASSWORD, make_user

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
SOURCE_NAME = "mastodon-verkruisen"

ADMIN = "beheer@school.example"
DIRECTOR = "directeur@school.example"
STAFF = "juf@school.example"
OTHER_STAFF = "meester@school.example"


# -- the browser ----------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium); Playwright must not download a browser"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Watch:
    """What went wrong in the browser, limited to our own origin."""

    base: str
    problems: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def ours(self, url: str | None) -> bool:
        return bool(url) and url.startswith(self.base)  # type: ignore[union-attr]

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type not in ("error", "assert"):
            return
        if message.text.startswith("Failed to load resource"):
            return  # an HTTP status, judged in on_response (a 401 or 404 page can be deliberate)
        where = (message.location or {}).get("url") or ""
        page_url = message.page.url if message.page is not None else ""
        if self.ours(where) or self.ours(page_url) or "Content Security Policy" in message.text:
            self.problems.append(f"console {message.type} on {page_url or where}: {message.text}")

    def on_page_error(self, error: Exception) -> None:
        self.problems.append(f"uncaught error: {error}")

    def on_response(self, response: Response) -> None:
        if not self.ours(response.url):
            return
        request = response.request
        broken_part = request.resource_type != "document" and response.status >= 400
        if response.status >= 500 or (broken_part and not response.url.endswith("/favicon.ico")):
            self.problems.append(f"HTTP {response.status} for {request.method} {response.url}")

    def on_dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def assert_clean(self) -> None:
        assert not self.dialogs, f"a JavaScript dialog opened: {self.dialogs}"
        assert not self.problems, "browser problems on our pages:\n" + "\n".join(self.problems)


# -- the live dashboard ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Seeded:
    post_id: int
    case_id: int | None


@dataclass
class Live:
    url: str
    env: Env
    settings: Settings
    users: dict[str, int]

    def login(self, page: Page, email: str, password: str = PASSWORD) -> None:
        """Log in through the real form; lands on the overview (or where `next` points)."""
        if not page.url.startswith(f"{self.url}/login"):  # keep the `next` of a redirect to the form
            page.goto(f"{self.url}/login")
        page.locator("input[name=email]").fill(email)
        page.locator("input[name=password]").fill(password)
        with page.expect_navigation():
            page.get_by_role("button", name="Inloggen").click()
        if page.url.startswith(f"{self.url}/login") and not page.get_by_role("alert").count():
            # Accepted (no error shown) and yet back on the form: the page after the redirect did
            # not find the new session, and its redirect to the login deleted the cookie.
            raise AssertionError(f"logged in as {email}, but the next page ({page.url}) found no session: "
                                 "was the login's transaction committed before its redirect was answered?")

    def seed_post(self, text: str, *, categories: Iterable[str] = ("insult",), sentiment: str = "negative",
                  author: str | None = "ouder_x", url: str | None = None, platform: str = "mastodon",
                  explanations: dict[str, list[dict[str, Any]]] | None = None,
                  created_at: datetime | None = None) -> Seeded:
        """A crawled post with its classification and (severity >= negative) its case, as the
        classifier job would store them."""
        categories = list(categories)
        with self.env.session() as session:
            school = get_school(session, name=SCHOOL["name"])
            source = session.execute(select(Source).where(Source.name == SOURCE_NAME)).scalars().one()
            raw = store_blob(self.settings.storage.dir, text.encode("utf-8"), media_type="application/json")
            external_id = hashlib.sha256(f"{text}|{author}|{time.time_ns()}".encode()).hexdigest()[:24]
            [post_id] = insert_posts(session, posts=[NewPost(
                source_id=source.id, school_id=school.id,  # type: ignore[arg-type]
                platform=platform, external_id=external_id, text=text,
                content_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(), capture=raw,
                capture_url=url, capture_media_type="application/json", url=url, author_handle=author,
                author_name=author, language="nl", created_at=created_at or utcnow() - timedelta(hours=2),
                matched_phrase="Verkruisen")])
            post = session.get(Post, post_id)
            assert post is not None
            if explanations is None:
                explanations = {c: [_span(text)] for c in categories}
            row = add_classification(
                session, post_id=post_id, model="e2e", version="1", language="nl", sentiment=sentiment,
                sentiment_score=0.9, scores={c: 0.9 for c in categories} | {sentiment: 0.9},
                categories=categories, explanations=explanations, severity=severity_for(sentiment, categories))
            case = open_or_join_case(session, post=post, classification=row)
            return Seeded(post_id, case.id if case is not None else None)


def _span(text: str) -> dict[str, Any]:
    end = min(len(text), 12)
    return {"start": 0, "end": end, "text": text[:end], "source": "model", "rule": None}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def live(env: Env) -> Iterator[Live]:
    source = {"name": SOURCE_NAME, "kind": "mastodon", "base_url": "http://127.0.0.1:9",
              "hashtags": ["verkruisen"], "enabled": False}
    stop: Callable[[], None] | None = None
    settings: Settings | None = None
    for _attempt in range(5):  # another process may take the probed port before uvicorn binds it
        settings = env.write([source], dashboard={"host": "127.0.0.1", "port": _free_port()})
        try:
            stop = serve_in_thread(settings)
            break
        except OSError:
            continue
    assert stop is not None and settings is not None, "no free port for the dashboard"
    users = {
        ADMIN: make_user(env, ADMIN, "admin", name="Bea Beheer"),
        DIRECTOR: make_user(env, DIRECTOR, "director", name="Dirk Directeur"),
        STAFF: make_user(env, STAFF, "staff", name="Juf Janna"),
        OTHER_STAFF: make_user(env, OTHER_STAFF, "staff", name="Meester Mo"),
    }
    base = f"http://127.0.0.1:{settings.dashboard.port}"
    _wait_until_up(base)
    try:
        yield Live(url=base, env=env, settings=settings, users=users)
    finally:
        stop()


def _wait_until_up(base: str, timeout: float = 10) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{base}/login", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            if time.monotonic() > deadline:
                raise
        time.sleep(0.05)


@pytest.fixture
def watch(live: Live) -> Watch:
    return Watch(base=live.url)


@pytest.fixture
def page(browser: Browser, live: Live, watch: Watch) -> Iterator[Page]:
    """A fresh browser context (no cookies) on the live dashboard, watched for trouble."""
    context = browser.new_context(base_url=live.url, locale="nl-NL", timezone_id="Europe/Amsterdam",
                                  viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.on("console", watch.on_console)
    page.on("pageerror", watch.on_page_error)
    page.on("response", watch.on_response)
    page.on("dialog", watch.on_dialog)
    try:
        yield page
    finally:
        context.close()
    watch.assert_clean()


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as a test artifact."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(target), full_page=True)
    return target


@pytest.fixture
def shot() -> Callable[[Page, str], Path]:
    return screenshot


# Every element attribute that would run script or style inline (forbidden by our CSP anyway).
_INLINE = """() => {
  const found = [];
  for (const el of document.querySelectorAll('*')) {
    for (const attr of el.attributes) {
      // An empty style="" shows up on hidden inputs after Playwright's queries (not in our HTML); it sets nothing.
      const inline = attr.name.startsWith('on') || (attr.name === 'style' && attr.value.trim());
      if (inline) found.push(el.outerHTML.slice(0, 200));
    }
    if ((el.tagName === 'SCRIPT' && !el.src) || el.tagName === 'STYLE') found.push(el.outerHTML.slice(0, 200));
    for (const name of ['href', 'src', 'action', 'formaction']) {
      const value = (el.getAttribute(name) || '').trim().toLowerCase();
      const scripted = value.startsWith('javascript:') || value.startsWith('data:text/html');
      if (scripted) found.push(el.outerHTML.slice(0, 200));
    }
  }
  return found;
}"""


def assert_no_inline(page: Page) -> None:
    """The page has no inline script, inline style, event handler or javascript: URL."""
    found = page.evaluate(_INLINE)
    assert not found, f"inline script/style on {page.url}: {found}"
