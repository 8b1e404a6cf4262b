"""Bluesky spider in the real Scrapy engine against the fake Bluesky XRPC API."""

from __future__ import annotations

import json
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from store.models import Post, Source
from tests.helpers.fixtures import Env
from tests.mockserver.platforms.bluesky import ACCESS_JWT, APP_PASSWORD, HANDLE, search_post

START = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
PASSWORD_ENV = "TEST_BSKY_APP_PASSWORD"


def _source(mockserver: str, scenario: str, **extra: object) -> dict[str, object]:
    base = f"{mockserver}/bluesky/{scenario}"
    source = {"name": "b", "kind": "bluesky", "base_url": base, "public_base_url": base,
              "query": "Verkruisen", "handle": HANDLE, "password_env": PASSWORD_ENV,
              "actors": ["@juf-anna.bsky.social"], **extra}
    return {k: v for k, v in source.items() if v is not None}  # TOML has no null


def _posts(env: Env) -> list[Post]:
    with env.session() as session:
        return list(session.execute(select(Post).order_by(Post.id)).scalars())


def _source_row(env: Env) -> Source:
    with env.session() as session:
        return session.execute(select(Source).where(Source.name == "b")).scalar_one()


def _hits(mockserver: str, scenario: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{mockserver}/_stats/x") as response:
        hits: dict[str, int] = json.load(response)
    prefix = f"bluesky:{scenario}:"
    return {k.removeprefix(prefix): v for k, v in hits.items() if k.startswith(prefix)}


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_search_and_author_feed_map_fields_page_and_resume(env_any_db: Env, mockserver: str) -> None:
    env = env_any_db
    env.extra_env[PASSWORD_ENV] = APP_PASSWORD
    scenario = f"n150-{uuid.uuid4().hex[:8]}"
    env.write([_source(mockserver, scenario)])
    result = env.crawl("b")
    assert result.returncode == 0, result.stderr[-2000:]
    posts = _posts(env)
    # Search: 150 hits over two pages, i % 3 != 1 name the school, plus hit 4 whose link card
    # does. Author feed: 150 items over two pages, every 5th a repost (skipped), 80 of the
    # actor's own posts name the school.
    by_author: dict[str | None, int] = {}
    for post in posts:
        by_author[post.author_handle] = by_author.get(post.author_handle, 0) + 1
    assert by_author.pop("juf-anna.bsky.social") == 80
    assert sum(by_author.values()) == 101
    assert not [p for p in posts if "Herinnering" in p.text]  # reposts are not the actor's

    third = search_post(3)
    did, _, rkey = third["uri"].removeprefix("at://").split("/")
    stored = next(p for p in posts if p.external_id == third["uri"])
    assert stored.platform == "bluesky"
    assert stored.url == f"https://bsky.app/profile/ouder3.bsky.social/post/{rkey}"
    assert did == "did:plc:ouder3xq7rjv2m3kz5nw6d"
    assert stored.author_name == "Ouder 3"
    assert stored.language == "nl"
    # Written by the client as 10:03+02:00: stored as UTC.
    assert stored.created_at == START + timedelta(minutes=3)
    card = next(p for p in posts if p.external_id == search_post(4)["uri"])
    assert card.text.endswith("Nieuwe directeur voor obs BM Verkruisen in Muntendam")

    source = _source_row(env)
    assert source.last_error is None
    # The post dated 2030 by its client counts by indexedAt, or it would hide all later posts.
    assert source.state == {"search": _iso(START + timedelta(minutes=150)),
                            "actor:juf-anna.bsky.social": _iso(START + timedelta(minutes=149,
                                                                                   seconds=30))}
    # Session secrets are neither logged nor kept as evidence.
    output = result.stdout + result.stderr
    assert APP_PASSWORD not in output and ACCESS_JWT not in output
    for file in Path(env.path / "storage").rglob("*"):
        if file.is_file():
            data = file.read_bytes()
            assert ACCESS_JWT.encode() not in data and APP_PASSWORD.encode() not in data

    again = env.crawl("b")
    assert again.returncode == 0, again.stderr[-2000:]
    assert len(_posts(env)) == 181
    assert _source_row(env).last_new_posts == 0
    hits = _hits(mockserver, scenario)
    assert hits[f"search:since={_iso(START + timedelta(minutes=150))}"] == 1
    assert hits["search:since=None"] == 2  # first crawl only: two pages
    assert hits["feed:cursor=None"] == 2  # one first page per crawl ...
    assert sum(v for k, v in hits.items() if k.startswith("feed:")) == 3  # ... one more page, once


def test_second_crawl_adds_only_newer_posts(env: Env, mockserver: str) -> None:
    env.extra_env[PASSWORD_ENV] = APP_PASSWORD
    tag = uuid.uuid4().hex[:8]
    env.write([_source(mockserver, f"n150-{tag}")])
    assert env.crawl("b").returncode == 0
    assert len(_posts(env)) == 181
    env.write([_source(mockserver, f"n160-{tag}")])
    result = env.crawl("b")
    assert result.returncode == 0, result.stderr[-2000:]
    # Search hits 151-160 minus those not naming the school (151, 154, 157, 160): 6; the
    # actor's own posts 152, 153, 156, 158, 159: 5.
    assert _source_row(env).last_new_posts == 11
    assert len(_posts(env)) == 192
    hits = _hits(mockserver, f"n160-{tag}")
    assert set(hits) == {f"search:since={_iso(START + timedelta(minutes=150))}",
                         "feed:cursor=None"}  # one page each: the feed stopped at seen posts
    assert _source_row(env).state["search"] == _iso(START + timedelta(minutes=160))


def test_wrong_app_password_gives_clear_error_without_the_password(env: Env,
                                                                   mockserver: str) -> None:
    wrong = "fout-wach-twoo-rd42"
    env.extra_env[PASSWORD_ENV] = wrong
    scenario = f"n30-{uuid.uuid4().hex[:8]}"
    env.write([_source(mockserver, scenario, actors=[])])
    result = env.crawl("b")
    assert result.returncode == 1
    source = _source_row(env)
    assert source.last_error is not None
    assert "Bluesky-aanmelding als bmverkruisen-monitor.bsky.social mislukt" in source.last_error
    assert "HTTP 401" in source.last_error
    assert "Invalid identifier or password" in source.last_error
    assert wrong not in source.last_error and wrong not in result.stdout + result.stderr
    assert source.state == {}
    assert _hits(mockserver, scenario) == {}  # no search without a session
    assert _posts(env) == []


def test_query_without_credentials_still_reads_actors(env: Env, mockserver: str) -> None:
    env.write([_source(mockserver, f"n30-{uuid.uuid4().hex[:8]}", handle=None,
                       password_env=None)])
    result = env.crawl("b")
    assert result.returncode == 1
    source = _source_row(env)
    assert source.last_error is not None
    assert "zoeken vereist handle en app-wachtwoord" in source.last_error
    # The public author feed was read all the same: 24 own posts, 16 naming the school.
    posts = _posts(env)
    assert len(posts) == 16
    assert {p.author_handle for p in posts} == {"juf-anna.bsky.social"}
    assert all(p.url and p.url.startswith("https://bsky.app/profile/juf-anna.bsky.social/post/")
               for p in posts)
    assert set(source.state) == {"actor:juf-anna.bsky.social"}
