"""X spider in the real Scrapy engine against the fake X API v2 recent search."""

from __future__ import annotations

import json
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from store.models import Post, Source
from tests.helpers.fixtures import Env
from tests.mockserver.platforms.x import BASE_ID, BEARER

START = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
TOKEN_ENV = "TEST_X_BEARER_TOKEN"


def _source(mockserver: str, scenario: str) -> dict[str, object]:
    return {"name": "x", "kind": "x", "base_url": f"{mockserver}/x/{scenario}",
            "query": '("BM Verkruisen" OR Verkruisen OR "fusieschool Muntendam") lang:nl',
            "bearer_token_env": TOKEN_ENV}


def _posts(env: Env) -> list[Post]:
    with env.session() as session:
        return list(session.execute(select(Post).order_by(Post.id)).scalars())


def _source_row(env: Env) -> Source:
    with env.session() as session:
        return session.execute(select(Source).where(Source.name == "x")).scalar_one()


def _hits(mockserver: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{mockserver}/_stats/x") as response:
        hits: dict[str, int] = json.load(response)
    return hits


def _tweet_id(i: int) -> str:
    return str(BASE_ID + i * 1000)


def test_search_maps_fields_follows_pages_and_resumes(env_any_db: Env, mockserver: str) -> None:
    env = env_any_db
    env.extra_env[TOKEN_ENV] = BEARER
    scenario = f"n250-{uuid.uuid4().hex[:8]}"
    env.write([_source(mockserver, scenario)])
    result = env.crawl("x")
    assert result.returncode == 0, result.stderr[-2000:]
    posts = _posts(env)
    # 250 posts over three pages; every third (i % 3 == 1) is about "Verkruisen Transport",
    # the school's exclusion phrase.
    assert len(posts) == 166
    assert _tweet_id(249) in {p.external_id for p in posts}
    assert _tweet_id(1) not in {p.external_id for p in posts}
    assert _tweet_id(2) in {p.external_id for p in posts}  # the last page was read
    third = next(p for p in posts if p.external_id == _tweet_id(3))
    assert third.platform == "x"
    assert third.url == f"https://x.com/moedervansem/status/{_tweet_id(3)}"
    assert third.author_handle == "moedervansem"
    assert third.author_name == "Moeder van Sem 🌷"
    assert third.created_at == START + timedelta(minutes=3)
    assert third.language == "nl"
    # X sends "&amp;" and "&gt;": stored as typed.
    assert third.text == ("Ouders & leerkrachten van BM Verkruisen: vergadering vanavond om "
                          "19:30 > aula #3")
    fifth = next(p for p in posts if p.external_id == _tweet_id(5))
    assert fifth.text.endswith("nooit op mails? <boos> #5")
    assert fifth.author_handle == "jbakker_mtd"
    source = _source_row(env)
    assert source.last_error is None
    assert source.state == {"since_id": _tweet_id(250)}
    assert BEARER not in result.stdout + result.stderr

    again = env.crawl("x")
    assert again.returncode == 0, again.stderr[-2000:]
    assert len(_posts(env)) == 166
    source = _source_row(env)
    assert source.last_new_posts == 0 and source.state == {"since_id": _tweet_id(250)}
    assert _hits(mockserver)[f"x:{scenario}:since_id={_tweet_id(250)}"] == 1


def test_second_crawl_asks_since_id_and_adds_only_newer(env: Env, mockserver: str) -> None:
    env.extra_env[TOKEN_ENV] = BEARER
    tag = uuid.uuid4().hex[:8]
    env.write([_source(mockserver, f"n30-{tag}")])
    assert env.crawl("x").returncode == 0
    assert len(_posts(env)) == 20
    env.write([_source(mockserver, f"n45-{tag}")])
    result = env.crawl("x")
    assert result.returncode == 0, result.stderr[-2000:]
    # 31-45, minus 31, 34, 37, 40 and 43 (the exclusion phrase).
    assert _source_row(env).last_new_posts == 10
    assert len(_posts(env)) == 30
    asked = {k for k in _hits(mockserver) if k.startswith(f"x:n45-{tag}:")}
    assert asked == {f"x:n45-{tag}:since_id={_tweet_id(30)}"}
    assert _source_row(env).state == {"since_id": _tweet_id(45)}


def test_rejected_token_gives_clear_error_without_the_token(env: Env, mockserver: str) -> None:
    wrong = "AAAAAAAAAAAAAAAAAAAAAwrongTokenForTests0123456789"
    env.extra_env[TOKEN_ENV] = wrong
    env.write([_source(mockserver, "n30")])
    result = env.crawl("x")
    assert result.returncode == 1
    source = _source_row(env)
    assert source.last_error is not None
    assert "HTTP 401" in source.last_error and "Unauthorized" in source.last_error
    assert "X weigert het bearer-token" in source.last_error
    assert TOKEN_ENV in source.last_error
    assert wrong not in source.last_error and wrong not in result.stdout + result.stderr
    assert source.state == {} and _posts(env) == []


def test_missing_token_fails_before_any_request(env: Env, mockserver: str) -> None:
    scenario = f"n30-{uuid.uuid4().hex[:8]}"
    env.write([_source(mockserver, scenario)])
    result = env.crawl("x")
    assert result.returncode == 1
    source = _source_row(env)
    assert source.last_error is not None
    assert "geen bearer-token" in source.last_error and TOKEN_ENV in source.last_error
    assert f"count:x/{scenario}" not in _hits(mockserver)


def test_rate_limit_reset_header_is_waited_for(env: Env, mockserver: str) -> None:
    # X sends no Retry-After, only the epoch second the window reopens (~2 s ahead); the
    # configured back-off alone (0.1 s, 0.2 s) would give up long before that.
    env.extra_env[TOKEN_ENV] = BEARER
    scenario = f"ratelimit-n20-{uuid.uuid4().hex[:8]}"
    env.write([_source(mockserver, scenario)])
    result = env.crawl("x")
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(_posts(env)) == 13
    with urllib.request.urlopen(f"{mockserver}/_times/x") as response:
        times = [t for t, _ in json.load(response)[f"x/{scenario}"]]
    assert len(times) >= 2 and times[-1] - times[0] >= 1.0


def test_rate_limit_reset_far_ahead_gives_up_with_clear_error(env: Env, mockserver: str) -> None:
    env.extra_env[TOKEN_ENV] = BEARER
    env.write([_source(mockserver, "ratelimitlong")])
    result = env.crawl("x", timeout=30)
    assert result.returncode == 1
    source = _source_row(env)
    assert source.last_error is not None
    assert "HTTP 429" in source.last_error and "te wachten" in source.last_error
    assert source.state == {}
