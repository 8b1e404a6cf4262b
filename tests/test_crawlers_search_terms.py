"""Searches stay limited to the school's configured terms (AVG: data minimisation; issue 7).

Each spider crawls a fake platform in the real Scrapy engine; the fake server's request log then
shows everything the spider asked the platform. The only free text that leaves Schoolwacht is a
configured search term that names the school (an alias or watched name, read the way the matcher
reads posts); everything else is a configured identifier (a subreddit, a channel, a video) or
paging. A post the platform returns that does not mention the school is not stored.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import select

from crawlers.matching import SchoolMatcher
from store.config import Settings, load_settings
from store.models import Post
from tests.helpers.fixtures import ROOT, SCHOOL, Env
from tests.helpers.mockstats import paths
from tests.mockserver.platforms import bluesky as fake_bluesky
from tests.mockserver.platforms import mastodon as fake_mastodon
from tests.mockserver.platforms import reddit as fake_reddit
from tests.mockserver.platforms import x as fake_x
from tests.mockserver.platforms import youtube as fake_youtube

MATCHER = SchoolMatcher(tuple(SCHOOL["aliases"]), tuple(SCHOOL["watch_names"]), tuple(SCHOOL["exclude"]))
NAMES_SCHOOL = SchoolMatcher(tuple(SCHOOL["aliases"]), tuple(SCHOOL["watch_names"]))
PAGING = {"limit", "max_id", "min_id", "since_id", "cursor", "since", "sort", "max_results", "next_token",
          "pageToken", "maxResults", "order", "part", "textFormat", "expansions", "tweet.fields", "user.fields"}


def search_terms(query: str) -> list[str]:
    """The free-text terms of a search query: quoted phrases and words, without operators."""
    phrases = re.findall(r'"([^"]+)"', query)
    rest = re.sub(r'"[^"]+"', " ", query)
    words = [w for w in re.split(r"[\s()]+", rest)
             if w and w.upper() not in ("OR", "AND") and ":" not in w and not w.startswith("-")]
    return phrases + words


def names_school(term: str) -> bool:
    return NAMES_SCHOOL.match(term) is not None


def sent(mockserver: str, platform: str, scenario: str) -> list[tuple[str, dict[str, list[str]]]]:
    """(path below the scenario, query) of every request the platform received."""
    prefix = f"/{platform}/{scenario}"
    requests = []
    for raw in paths(mockserver, f"{platform}/{scenario}"):
        parts = urlsplit(raw)
        assert parts.path.startswith(prefix), raw
        requests.append((unquote(parts.path[len(prefix):]), parse_qs(parts.query)))
    assert requests, f"no requests reached {platform}/{scenario}"
    return requests


def assert_only_school_posts(env: Env, *, served: dict[str, str]) -> None:
    """Every stored post mentions the school; `served` (external id -> text), posts the platform did
    return that do not mention it, are not stored."""
    with env.session() as session:
        stored = dict(session.execute(select(Post.external_id, Post.text)).all())
    assert stored, "nothing stored"
    assert [t for t in stored.values() if MATCHER.match(t) is None] == []
    assert served
    for external_id, text in served.items():
        assert MATCHER.match(text) is None, text
        assert external_id not in stored, text


def _scenario(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_mastodon_asks_only_the_configured_hashtags(env: Env, mockserver: str) -> None:
    scenario = _scenario("n10")
    env.write([{"name": "m", "kind": "mastodon", "base_url": f"{mockserver}/mastodon/{scenario}",
                "hashtags": ["verkruisen", "#BMVerkruisen"]}])
    assert env.crawl("m").returncode == 0
    tags = set()
    for path, query in sent(mockserver, "mastodon", scenario):
        assert path.startswith("/api/v1/timelines/tag/"), path  # no search, no other endpoint
        tags.add(path.removeprefix("/api/v1/timelines/tag/"))
        assert set(query) <= PAGING, query
    assert tags == {"verkruisen", "BMVerkruisen"}
    assert all(names_school(f"#{tag}") for tag in tags)
    assert_only_school_posts(env, served={fake_mastodon.status(1)["uri"]: fake_mastodon.TEXTS[1]})


def test_bluesky_searches_only_the_configured_query(env: Env, mockserver: str) -> None:
    scenario = _scenario("n30")
    env.extra_env["TEST_BSKY_APP_PASSWORD"] = fake_bluesky.APP_PASSWORD
    base = f"{mockserver}/bluesky/{scenario}"
    env.write([{"name": "b", "kind": "bluesky", "base_url": base, "public_base_url": base, "query": "Verkruisen",
                "handle": fake_bluesky.HANDLE, "password_env": "TEST_BSKY_APP_PASSWORD"}])
    assert env.crawl("b").returncode == 0
    searched = []
    for path, query in sent(mockserver, "bluesky", scenario):
        if path == "/xrpc/com.atproto.server.createSession":  # the school's own login, a POST body
            assert query == {}
            continue
        assert path == "/xrpc/app.bsky.feed.searchPosts", path
        searched += query.pop("q")
        assert set(query) <= PAGING, query
    assert set(searched) == {"Verkruisen"} and all(names_school(q) for q in searched)
    assert_only_school_posts(env, served={fake_bluesky.search_post(1)["uri"]: fake_bluesky.TEXTS[1]})


def test_x_searches_only_the_configured_query(env: Env, mockserver: str) -> None:
    scenario = _scenario("n30")
    configured = '("BM Verkruisen" OR Verkruisen OR "fusieschool Muntendam") lang:nl -is:retweet'
    env.extra_env["TEST_X_BEARER_TOKEN"] = fake_x.BEARER
    env.write([{"name": "x", "kind": "x", "base_url": f"{mockserver}/x/{scenario}", "query": configured,
                "bearer_token_env": "TEST_X_BEARER_TOKEN"}])
    assert env.crawl("x").returncode == 0
    for path, query in sent(mockserver, "x", scenario):
        assert path == "/2/tweets/search/recent", path
        assert query.pop("query") == [configured]
        assert set(query) <= PAGING, query
    assert search_terms(configured) == ["BM Verkruisen", "fusieschool Muntendam", "Verkruisen"]
    assert all(names_school(t) for t in search_terms(configured))
    # The platform also answered with a post about another Verkruisen (the exclusion phrase).
    assert_only_school_posts(env, served={fake_x.tweet(1)["id"]: fake_x.TEXTS[1]})


def test_reddit_sends_no_search_terms(env: Env, mockserver: str) -> None:
    scenario = _scenario("listing")
    env.write([{"name": "rd", "kind": "reddit", "base_url": f"{mockserver}/reddit/{scenario}",
                "subreddits": ["groningen"]}])
    assert env.crawl("rd").returncode == 0
    assert sent(mockserver, "reddit", scenario) == [("/r/groningen/new/.rss", {"limit": ["100"]})]
    others = {f"t3_{post_id}": title for post_id, _author, title, body, *_ in fake_reddit.POSTS["groningen"]
              if MATCHER.match(f"{title} {body or ''}") is None}
    assert_only_school_posts(env, served=others)  # the listing also holds a post about a roundabout


def test_youtube_sends_no_search_terms(env: Env, mockserver: str) -> None:
    scenario = _scenario("listing")
    env.extra_env["YT_KEY"] = fake_youtube.API_KEY
    base = f"{mockserver}/youtube/{scenario}"
    env.write([{"name": "yt", "kind": "youtube", "base_url": base, "feed_base_url": base,
                "channel_ids": [fake_youtube.CHANNEL], "api_key_env": "YT_KEY"}])
    assert env.crawl("yt").returncode == 0
    for path, query in sent(mockserver, "youtube", scenario):
        if path == "/feeds/videos.xml":
            assert query == {"channel_id": [fake_youtube.CHANNEL]}
            continue
        assert path == "/youtube/v3/commentThreads", path  # never search.list, never searchTerms
        filters = {k: v for k, v in query.items() if k not in PAGING}
        assert filters in ({"videoId": [filters.get("videoId", [""])[0]]},
                           {"allThreadsRelatedToChannelId": [fake_youtube.CHANNEL]}), query
        assert filters.get("videoId", [None])[0] in (None, *[v for v, *_ in fake_youtube.VIDEOS])
    video, title, description, _minutes = fake_youtube.VIDEOS[1]
    comment = fake_youtube.comment_thread(fake_youtube.VIDEOS[0][0], 1)
    assert_only_school_posts(env, served={f"video:{video}": f"{title} {description}",
                                          f"comment:{comment['id']}": fake_youtube.COMMENT_TEXTS[1]})


def test_the_example_config_searches_only_school_terms() -> None:
    """The configuration a school starts from sends no term that does not name the school."""
    settings: Settings = load_settings(Path(ROOT) / "schoolwacht.example.toml", environ={})
    school = settings.schools[0]
    matcher = SchoolMatcher(tuple(school.aliases), tuple(school.watch_names))
    for source in settings.sources:
        terms: list[str] = []
        if source.kind == "mastodon":
            terms = [f"#{tag.lstrip('#')}" for tag in source.hashtags]  # type: ignore[union-attr]
        elif source.kind in ("bluesky", "x") and source.query:  # type: ignore[union-attr]
            terms = search_terms(source.query)  # type: ignore[union-attr]
        for term in terms:
            assert matcher.match(term) is not None, f"{source.name}: {term!r} does not name the school"
