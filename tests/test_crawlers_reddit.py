"""Reddit spider in the real Scrapy engine against a fake www.reddit.com Atom listing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from crawlers.spiders.reddit import subreddit_name
from store.models import Post, Source
from tests.helpers.fixtures import Env


def _posts(env: Env) -> dict[str, Post]:
    with env.session() as session:
        return {p.external_id: p for p in session.execute(select(Post)).scalars()}


def _source(env: Env) -> Source:
    with env.session() as session:
        return session.execute(select(Source).where(Source.name == "rd")).scalar_one()


def _write(env: Env, mockserver: str, scenario: str, subreddits: list[str]) -> None:
    env.write([{"name": "rd", "kind": "reddit", "base_url": f"{mockserver}/reddit/{scenario}",
                "subreddits": subreddits}])


def test_subreddit_listings_store_matching_posts_once(env_any_db: Env, mockserver: str) -> None:
    _write(env_any_db, mockserver, "normal", ["groningen", "r/Veendam"])
    result = env_any_db.crawl("rd")
    assert result.returncode == 0, result.stderr[-3000:]
    posts = _posts(env_any_db)
    # r/groningen: 3 of 4 mention the school (one only in its self text, one is a link
    # post whose title does); r/veendam: 1 of 2.
    assert set(posts) == {"t3_1f0k2a1", "t3_1f0k2a3", "t3_1f0k2a4", "t3_1f0m7b1"}
    assert {p.platform for p in posts.values()} == {"reddit"}

    asked = posts["t3_1f0k2a1"]
    assert asked.text == ("Ervaringen met BM Verkruisen?\n\n"
                          "Wij overwegen onze zoon in te schrijven. Hoe is de school?")
    assert asked.author_handle == "u/ouder_uit_muntendam"
    assert asked.url == "https://www.reddit.com/r/groningen/comments/1f0k2a1/ervaringen_met_bm_ve/"
    created = asked.created_at
    assert (created if created.tzinfo else created.replace(tzinfo=UTC)) == datetime(
        2026, 9, 1, 8, 0, tzinfo=UTC)

    complaint = posts["t3_1f0k2a3"]
    assert complaint.matched_phrase == "Verkruisen"
    assert "De juf van groep 3 op Verkruisen reageert nooit op mail." in complaint.text
    assert "Bellen helpt ook niet." in complaint.text
    assert "submitted by" not in complaint.text and "[comments]" not in complaint.text
    assert posts["t3_1f0k2a4"].text == "BM Verkruisen in het nieuws"  # link post: title only
    assert "dichte deur 's ochtends" in posts["t3_1f0m7b1"].text  # entities decoded once

    source = _source(env_any_db)
    assert source.last_error is None
    assert source.state == {"r/groningen": "2026-09-01T08:15:00+00:00",
                            "r/veendam": "2026-09-01T08:25:00+00:00"}

    again = env_any_db.crawl("rd")
    assert again.returncode == 0, again.stderr[-3000:]
    assert _posts(env_any_db).keys() == posts.keys()
    assert _source(env_any_db).last_new_posts == 0


def test_second_crawl_adds_only_the_new_post(env: Env, mockserver: str) -> None:
    _write(env, mockserver, f"growing-{uuid.uuid4().hex[:8]}", ["groningen"])
    assert env.crawl("rd").returncode == 0
    assert len(_posts(env)) == 3
    result = env.crawl("rd")
    assert result.returncode == 0, result.stderr[-3000:]
    assert set(_posts(env)) == {"t3_1f0k2a1", "t3_1f0k2a3", "t3_1f0k2a4", "t3_1f0k2a9"}
    source = _source(env)
    assert source.last_new_posts == 1
    assert source.state == {"r/groningen": "2026-09-02T08:00:00+00:00"}


@pytest.mark.parametrize(("scenario", "subreddit", "expected"), [
    ("malformed", "groningen", "/r/groningen/new/.rss?limit=100: geen geldige feed: ongeldige XML"),
    ("wrongtype", "groningen", "verwacht een RSS- of Atom-feed, kreeg text/html"),
    ("normal", "bestaatniet", "/r/bestaatniet/new/.rss?limit=100: HTTP 404"),
    ("ratelimitedlong", "groningen", "HTTP 429, de server vraagt 86400 s te wachten"),
])
def test_unreadable_listing_gives_clear_error(env: Env, mockserver: str, scenario: str,
                                              subreddit: str, expected: str) -> None:
    _write(env, mockserver, scenario, [subreddit])
    result = env.crawl("rd")
    assert result.returncode == 1, result.stderr[-3000:]
    source = _source(env)
    assert source.last_error is not None and expected in source.last_error, source.last_error
    assert source.last_error.startswith(f"{mockserver}/reddit/{scenario}/r/{subreddit}/")
    assert source.state == {}
    assert _posts(env) == {}


def test_invalid_subreddit_name_is_reported_and_others_still_read(env: Env,
                                                                   mockserver: str) -> None:
    _write(env, mockserver, "normal", ["veendam", "../../api/v1/me"])
    result = env.crawl("rd")
    assert result.returncode == 1
    source = _source(env)
    assert source.last_error == ("subreddit '../../api/v1/me': geen geldige naam (3-21 letters, "
                                 "cijfers of _)")
    assert set(_posts(env)) == {"t3_1f0m7b1"}


def test_subreddit_name_forms() -> None:
    assert subreddit_name("/r/Groningen/") == "Groningen"
    assert subreddit_name("r/veendam") == "veendam"
    assert subreddit_name("groningen?x=1") is None
    assert subreddit_name("a" * 22) is None
