"""RSS spider in the real Scrapy engine against fake RSS 2.0, Atom and Google Alerts feeds."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from crawlers.spiders.rss import unwrap_google_url
from store.models import Capture, Post, Source
from tests.helpers.fixtures import Env

ALERTS_PATH = "/alerts/feeds/01234567890123456789/9876543210987654321"


def _posts(env: Env) -> dict[str, Post]:
    with env.session() as session:
        return {p.external_id: p for p in session.execute(select(Post)).scalars()}


def _source(env: Env, name: str = "r") -> Source:
    with env.session() as session:
        return session.execute(select(Source).where(Source.name == name)).scalar_one()


def _feeds(mockserver: str, scenario: str) -> dict[str, str]:
    base = f"{mockserver}/rss/{scenario}"
    return {"news": f"{base}/rss/index.xml", "blog": f"{base}/blog/atom.xml",
            "alerts": f"{base}{ALERTS_PATH}"}


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def test_rss_atom_and_google_alerts_store_matching_entries_once(env_any_db: Env,
                                                                  mockserver: str) -> None:
    feeds = _feeds(mockserver, "normal")
    env_any_db.write([{"name": "r", "kind": "rss", "urls": list(feeds.values())}])
    result = env_any_db.crawl("r")
    assert result.returncode == 0, result.stderr[-3000:]
    posts = _posts(env_any_db)
    news = "https://www.rtvnoord.nl/nieuws/"
    alert = "tag:google.com,2013:googlealerts/feed:"
    # News: 4 of 5 items mention the school (one only in its description); blog: 1 of 2;
    # alerts: 2 of 3 ("Verkruisen Transport" is an exclusion phrase of the school).
    assert set(posts) == {
        f"{news}1001/kerstmarkt", f"{news}1003/schoolplein", f"{feeds['news']}#48213",
        f"{news}2020", "tag:ouderblog.nl,2026:post-17", f"{alert}10526432952391935491",
        f"{alert}10526432952391935493",
    }
    assert {p.platform for p in posts.values()} == {"rss"}

    item = posts[f"{news}1001/kerstmarkt"]
    assert item.url == f"{news}1001/kerstmarkt"
    assert item.text == ("Kerstmarkt op obs BM Verkruisen trekt honderden bezoekers\n\n"
                         "De leerlingen van obs BM Verkruisen verkochten zelfgemaakte kerststukjes.")
    assert item.author_name == "Redactie RTV Noord"
    assert item.language == "nl"
    assert item.matched_phrase == "BM Verkruisen"
    # pubDate "Tue, 01 Sep 2026 10:00:00 +0200" is 08:00 UTC.
    assert _aware(item.created_at) == _utc("2026-09-01T08:00:00")
    assert posts[f"{news}1003/schoolplein"].matched_phrase == "fusieschool Muntendam"

    blog = posts["tag:ouderblog.nl,2026:post-17"]
    assert blog.author_name == "Anouk de Vries"
    assert blog.url == "https://ouderblog.nl/post-17"
    assert "Onze dochter zit sinds dit jaar op BM Verkruisen" in blog.text
    assert _aware(blog.created_at) == _utc("2026-09-01T08:30:00")  # published, not updated

    google = posts[f"{alert}10526432952391935491"]
    assert google.url == "https://dvhn.nl/groningen/kerstmarkt-op-obs-bm-verkruisen-28431.html"
    assert google.text.startswith("Kerstmarkt op obs BM Verkruisen - Dagblad van het Noorden\n\n")
    assert "<b>" not in google.text and "&nbsp;" not in google.text
    assert google.author_name is None  # Google Alerts has an empty <author><name/>
    assert posts[f"{alert}10526432952391935493"].url == (
        "https://www.oogtv.nl/2026/09/ophef-lerares-verkruisen/?utm_source=alerts&x=1")

    source = _source(env_any_db)
    assert source.last_error is None
    assert source.state == {
        f"feed:{feeds['news']}": "2026-09-01T08:20:00+00:00",
        f"feed:{feeds['blog']}": "2026-09-01T10:10:00+00:00",  # newest <updated>
        f"feed:{feeds['alerts']}": "2026-09-01T08:58:00+00:00",
    }
    with env_any_db.session() as session:
        captures = list(session.execute(select(Capture)).scalars())
    assert len({c.path for c in captures}) == 3  # one raw capture per fetched feed

    again = env_any_db.crawl("r")
    assert again.returncode == 0, again.stderr[-3000:]
    assert _posts(env_any_db).keys() == posts.keys()
    source = _source(env_any_db)
    assert source.last_new_posts == 0 and source.last_error is None
    assert len(source.state) == 3


def test_second_crawl_adds_only_newer_entries(env: Env, mockserver: str) -> None:
    # "growing-*": the first fetch of each feed is the normal one, later fetches a day later
    # with new entries on top and one entry dated before the stored high-water mark.
    feeds = _feeds(mockserver, f"growing-{uuid.uuid4().hex[:8]}")
    env.write([{"name": "r", "kind": "rss", "urls": [feeds["news"], feeds["alerts"]]}])
    assert env.crawl("r").returncode == 0
    assert len(_posts(env)) == 6
    result = env.crawl("r")
    assert result.returncode == 0, result.stderr[-3000:]
    posts = _posts(env)
    assert "https://www.rtvnoord.nl/nieuws/1006/verkeer" in posts
    assert "tag:google.com,2013:googlealerts/feed:10526432952391935494" in posts
    assert "https://www.rtvnoord.nl/nieuws/0999/archief" not in posts  # older than the mark
    source = _source(env)
    assert source.last_new_posts == 2
    assert source.state == {f"feed:{feeds['news']}": "2026-09-02T08:00:00+00:00",
                            f"feed:{feeds['alerts']}": "2026-09-02T08:30:00+00:00"}


def test_feed_with_recoverable_xml_errors_is_still_read(env: Env, mockserver: str) -> None:
    env.write([{"name": "r", "kind": "rss", "url": _feeds(mockserver, "bozo")["news"]}])
    result = env.crawl("r")
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(_posts(env)) == 4
    assert _source(env).last_error is None


def test_feed_in_a_declared_legacy_encoding_is_decoded(env: Env, mockserver: str) -> None:
    env.write([{"name": "r", "kind": "rss", "url": _feeds(mockserver, "latin1")["news"]}])
    result = env.crawl("r")
    assert result.returncode == 0, result.stderr[-3000:]
    texts = [p.text for p in _posts(env).values()]
    assert any(t.startswith("Café-avond en kerstmarkt op obs BM Verkruisen") for t in texts)


@pytest.mark.parametrize(("scenario", "expected"), [
    ("malformed", "geen geldige feed: ongeldige XML op regel 3"),
    ("wrongtype", "verwacht een RSS- of Atom-feed, kreeg text/html"),
    ("badutf8feed", "ongeldige UTF-8 op byte"),
    ("garbage", "ongeldige UTF-8 op byte 1"),
])
def test_broken_feed_gives_clear_error_and_keeps_the_others(env: Env, mockserver: str,
                                                            scenario: str, expected: str) -> None:
    good = _feeds(mockserver, "normal")["news"]
    bad = _feeds(mockserver, scenario)["news"]
    env.write([{"name": "r", "kind": "rss", "urls": [bad, good]}])
    result = env.crawl("r")
    assert result.returncode == 1, result.stderr[-3000:]
    assert "error:" in result.stdout  # crawlers.run finished and reported, no crash
    source = _source(env)
    assert source.last_error is not None
    assert source.last_error.startswith(f"{bad}: {expected}"), source.last_error
    assert "interne fout" not in source.last_error
    assert source.state == {f"feed:{good}": "2026-09-01T08:20:00+00:00"}
    assert len(_posts(env)) == 4  # the good feed was still read


def test_unwrap_google_url_only_touches_google_redirects() -> None:
    wrapped = ("https://www.google.com/url?rct=j&sa=t&url=https://a.nl/b%3Fc%3D1%26d%3D2"
               "&ct=ga&usg=x")
    assert unwrap_google_url(wrapped) == "https://a.nl/b?c=1&d=2"
    assert unwrap_google_url("https://a.nl/url?url=https://evil.example/") == (
        "https://a.nl/url?url=https://evil.example/")
    assert unwrap_google_url("https://www.google.com/url?url=javascript:alert(1)") == (
        "https://www.google.com/url?url=javascript:alert(1)")
