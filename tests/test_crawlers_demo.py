"""The demo source of `schoolwacht run --demo`: its sample posts, its Mastodon and RSS
answers, and real crawls of both in the Scrapy engine as posts keep arriving."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
import tomli_w
from sqlalchemy import select

from crawlers.demo import POSTS_FILE, DemoPost, DemoServer, demo_config
from crawlers.matching import SchoolMatcher
from store.config import Settings, load_settings, settings_from_dict
from store.db import make_engine, session_scope
from store.migrate import upgrade
from store.models import Post, Source

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"


class Clock:
    """A clock the test moves by hand, so a post appearing never races a running crawl."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@dataclass
class Demo:
    server: DemoServer
    clock: Clock
    config_file: Path
    settings: Settings

    def crawl(self, source: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "crawlers.run", source, "--config", str(self.config_file)],
            cwd=ROOT, capture_output=True, text=True, timeout=120)

    def stored(self, platform: str) -> list[Post]:
        engine = make_engine(self.settings.database.url)
        try:
            with session_scope(engine) as session:
                query = select(Post).where(Post.platform == platform)
                return list(session.execute(query).scalars())
        finally:
            engine.dispose()

    def last_new_posts(self, name: str) -> int | None:
        engine = make_engine(self.settings.database.url)
        try:
            with session_scope(engine) as session:
                query = select(Source).where(Source.name == name)
                return session.execute(query).scalar_one().last_new_posts
        finally:
            engine.dispose()


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    clock = Clock()
    server = DemoServer(interval=1, clock=clock)
    server.start()
    config_file = tmp_path / "demo.toml"
    config_file.write_text(tomli_w.dumps(demo_config(tmp_path, server.url)), encoding="utf-8")
    settings = load_settings(config_file, environ={})
    engine = make_engine(settings.database.url)
    upgrade(engine)
    engine.dispose()
    try:
        yield Demo(server, clock, config_file, settings)
    finally:
        server.stop()


def _get(url: str) -> tuple[str, str, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return (response.headers["Content-Type"], response.headers.get("Link") or "",
                response.read().decode("utf-8"))


def _rss_text(post: DemoPost) -> str:
    return f"{post.title}\n\n{post.text}"


def test_sample_posts_are_varied_and_all_mention_the_school(tmp_path: Path) -> None:
    rows = [json.loads(line) for line in POSTS_FILE.read_text("utf-8").splitlines()]
    assert 55 <= len(rows) <= 65
    assert len({r["id"] for r in rows}) == len(rows)
    assert sum(r["kind"] == "mastodon" for r in rows) == 45
    assert all(r["kind"] == "mastodon" or r.get("title") for r in rows)
    assert sum("minutes_ago" in r for r in rows) == 40
    texts = [r["text"] for r in rows]
    assert any(SCRIPT in t for t in texts) and any(IMG in t for t in texts)
    assert any("met een mes naar het schoolplein" in t for t in texts)
    settings = settings_from_dict(demo_config(tmp_path, "http://127.0.0.1:9"), environ={})
    school = settings.school("obs BM Verkruisen")
    matcher = SchoolMatcher(tuple(school.aliases), tuple(school.watch_names),
                            tuple(school.exclude))
    assert [r["id"] for r in rows if matcher.match(r["text"]) is None] == []
    assert {s.name for s in settings.sources} == {"demo-mastodon", "demo-nieuws"}
    assert settings.mail.port == 8025 and settings.mail.director == ["directeur@verkruisen.example"]


def test_tag_timeline_pages_like_mastodon_and_grows_over_time(demo: Demo) -> None:
    base = f"{demo.server.url}/api/v1/timelines/tag/verkruisen"
    url, ids, link = f"{base}?limit=7", [], ""
    for _ in range(10):
        ctype, link, body = _get(url)
        assert ctype.startswith("application/json")
        page = json.loads(body)
        if not page:
            break
        assert len(page) <= 7
        ids += [int(s["id"]) for s in page]
        url = link.split(">")[0].lstrip("<")
        assert 'rel="next"' in link and "max_id=" in url
    assert len(ids) == 30 and ids == sorted(ids, reverse=True)
    newest = ids[0]
    _, link, body = _get(f"{base}?min_id={newest}")
    assert json.loads(body) == [] and link == ""

    demo.clock.now += 2.5  # the first two delayed posts appear (one second apart)
    _, link, body = _get(f"{base}?min_id={newest}")
    new = json.loads(body)
    assert len(new) == 2 and int(new[0]["id"]) > int(new[1]["id"]) > newest
    assert f"min_id={new[0]['id']}" in link
    status = new[1]
    assert status["content"].startswith("<p>") and status["language"] == "nl"
    assert status["account"]["acct"] and status["uri"].startswith("https://")
    created = datetime.fromisoformat(status["created_at"].replace("Z", "+00:00"))
    appeared = demo.clock.now - 1.5
    assert abs(created.timestamp() - appeared) < 0.002  # created_at: when it appeared
    _, _, since = _get(f"{base}?since_id={ids[2]}&limit=40")
    assert len(json.loads(since)) == 4  # two new and the two newest before them
    hostile = next(s for s in json.loads(_get(f"{base}?limit=40")[2]) if "script" in s["content"])
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in hostile["content"]  # inert as served
    assert "<script" not in hostile["content"]


def test_rss_feed_is_rss2_and_grows_over_time(demo: Demo) -> None:
    ctype, _, body = _get(f"{demo.server.url}/rss.xml")
    assert ctype.startswith("application/rss+xml")
    feed = feedparser.parse(body)
    assert not feed.bozo and feed.version == "rss20"
    assert len(feed.entries) == 10
    assert feed.entries[0].published_parsed >= feed.entries[-1].published_parsed
    assert all(e.title and e.summary and e.author and e.id for e in feed.entries)
    demo.clock.now += 4.5  # the fourth delayed post is the first news item
    assert len(feedparser.parse(_get(f"{demo.server.url}/rss.xml")[2]).entries) == 11


def test_demo_sources_crawl_in_the_real_engine_and_pick_up_new_posts(demo: Demo) -> None:
    server = demo.server
    for name in ("demo-mastodon", "demo-nieuws"):
        result = demo.crawl(name)
        assert result.returncode == 0, result.stderr[-2000:]
    # Every visible post mentions the school, so every one is stored, text verbatim.
    assert sorted(p.text for p in demo.stored("mastodon")) == sorted(
        p.text for p in server.visible("mastodon"))
    assert sorted(p.text for p in demo.stored("rss")) == sorted(
        _rss_text(p) for p in server.visible("rss"))
    assert len(demo.stored("mastodon")) == 30 and len(demo.stored("rss")) == 10
    assert any(p.text.startswith(SCRIPT) for p in demo.stored("mastodon"))

    for name in ("demo-mastodon", "demo-nieuws"):
        assert demo.crawl(name).returncode == 0
        assert demo.last_new_posts(name) == 0
    assert len(demo.stored("mastodon")) == 30 and len(demo.stored("rss")) == 10

    before = {p.status_id for p in server.visible()}
    demo.clock.now += 6.5  # six delayed posts appear: five toots and one news item
    arrived = [p for p in server.visible() if p.status_id not in before]
    assert [p.kind for p in arrived].count("mastodon") == 5
    for name in ("demo-mastodon", "demo-nieuws"):
        assert demo.crawl(name).returncode == 0
    assert demo.last_new_posts("demo-mastodon") == 5
    assert demo.last_new_posts("demo-nieuws") == 1
    toots = demo.stored("mastodon")
    assert sorted(p.text for p in toots) == sorted(p.text for p in server.visible("mastodon"))
    assert len(demo.stored("rss")) == 11
    img = next(p for p in toots if IMG in p.text)
    img_post = next(p for p in arrived if IMG in p.text)
    assert img.text == img_post.text  # typed HTML stays text, stored as typed
    assert img.author_handle == "testaccount@social.example"
    created = img.created_at if img.created_at.tzinfo else img.created_at.replace(tzinfo=UTC)
    assert abs(created.timestamp() - img_post.appears_at) < 0.002
