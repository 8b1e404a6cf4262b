"""Facebook Page spider in the real Scrapy engine against the fake Graph API."""

from __future__ import annotations

import json
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from store.models import Capture, Post, Source
from tests.helpers.fixtures import Env
from tests.mockserver.platforms.facebook import (
    COMMENT_BASE,
    LATE_COMMENT,
    PAGE_ID,
    PAGE_TOKEN,
    POST_BASE,
)

START = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
TOKEN_ENV = "TEST_FB_PAGE_TOKEN"
NEWEST = START + timedelta(hours=30, minutes=10)  # 2nd comment on post 30 (of n30)


def _source(mockserver: str, scenario: str, **extra: object) -> dict[str, object]:
    return {"name": "fb", "kind": "facebook_page", "base_url": f"{mockserver}/facebook/{scenario}",
            "page_id": PAGE_ID, "token_env": TOKEN_ENV, **extra}


def _posts(env: Env) -> list[Post]:
    with env.session() as session:
        return list(session.execute(select(Post).order_by(Post.id)).scalars())


def _source_row(env: Env) -> Source:
    with env.session() as session:
        return session.execute(select(Source).where(Source.name == "fb")).scalar_one()


def _hits(mockserver: str, scenario: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{mockserver}/_stats/x") as response:
        hits: dict[str, int] = json.load(response)
    prefix = f"facebook:{scenario}:"
    return {k.removeprefix(prefix): v for k, v in hits.items() if k.startswith(prefix)}


def _unix(moment: datetime) -> int:
    return int(moment.timestamp())


def _comment_id(i: int, k: int) -> str:
    return f"{POST_BASE + i}_{COMMENT_BASE + i * 100 + k}"


def test_every_post_and_comment_of_the_page_is_stored(env_any_db: Env, mockserver: str) -> None:
    env = env_any_db
    env.extra_env[TOKEN_ENV] = PAGE_TOKEN
    scenario = f"n30-p10-{uuid.uuid4().hex[:8]}"
    env.write([_source(mockserver, scenario)])
    result = env.crawl("fb")
    assert result.returncode == 0, result.stderr[-2000:]
    posts = _posts(env)
    by_id = {p.external_id: p for p in posts}
    # 30 posts over three feed pages, 7 of them photos without text (not stored); 40
    # comments with text, 10 of them on post 2 over two comment pages.
    assert len(posts) == 63
    assert f"{PAGE_ID}_{POST_BASE + 4}" not in by_id  # photo only
    assert f"{PAGE_ID}_{POST_BASE + 1}" in by_id  # from the last feed page
    assert len([i for i in by_id if i.startswith(f"{POST_BASE + 2}_")]) == 10

    first = by_id[f"{PAGE_ID}_{POST_BASE + 1}"]
    assert first.platform == "facebook"
    assert first.text == "Morgen is de school gesloten vanwege een studiedag."
    assert first.url == f"https://www.facebook.com/obsbmverkruisen/posts/pfbid0{POST_BASE + 1}"
    assert first.author_name == "obs BM Verkruisen" and first.author_handle == PAGE_ID
    assert first.created_at == START + timedelta(hours=1)  # "2026-09-01T09:00:00+0000"

    # The page is the school's own: a comment that never names the school is kept.
    angry = by_id[_comment_id(3, 0)]
    assert angry.text == "Wat een waardeloze school, alweer geen nieuwsbrief."
    assert angry.matched_phrase is None
    assert angry.author_name == "Ouder 1"
    assert angry.created_at == START + timedelta(hours=3, minutes=5)
    assert angry.url == (f"https://www.facebook.com/obsbmverkruisen/posts/pfbid0{POST_BASE + 3}"
                         f"?comment_id={COMMENT_BASE + 300}")
    # Without its own permalink a comment links to its post.
    assert by_id[_comment_id(3, 1)].url == (f"https://www.facebook.com/obsbmverkruisen/posts/"
                                            f"pfbid0{POST_BASE + 3}")
    # Comments under a photo-only post are read all the same.
    assert _comment_id(12, 0) in by_id

    source = _source_row(env)
    assert source.last_error is None
    assert source.state == {"since": _unix(NEWEST)}
    assert PAGE_TOKEN not in result.stdout + result.stderr
    with env.session() as session:
        urls = [c.url or "" for c in session.execute(select(Capture)).scalars()]
    assert urls and all(PAGE_TOKEN not in u for u in urls)
    assert any("access_token=%2A%2A%2A" in u or "access_token=***" in u for u in urls)

    again = env.crawl("fb")
    assert again.returncode == 0, again.stderr[-2000:]
    assert len(_posts(env)) == 63 and _source_row(env).last_new_posts == 0
    hits = _hits(mockserver, scenario)
    # The second crawl asked from 14 days (comment_window_days) before the newest item (its
    # three feed pages all carry since), and read one comment page of post 2: its newest
    # comments were older than the mark.
    assert {k: v for k, v in hits.items() if k.startswith("feed:")} == {
        "feed:since=None": 3, f"feed:since={_unix(NEWEST - timedelta(days=14))}": 3}
    assert hits["comments:2"] == 3


def test_second_crawl_asks_since_and_adds_only_newer(env: Env, mockserver: str) -> None:
    env.extra_env[TOKEN_ENV] = PAGE_TOKEN
    tag = uuid.uuid4().hex[:8]
    env.write([_source(mockserver, f"n30-p10-{tag}", comment_window_days=0)])
    assert env.crawl("fb").returncode == 0
    assert len(_posts(env)) == 63
    env.write([_source(mockserver, f"n35-p10-{tag}", comment_window_days=0)])
    result = env.crawl("fb")
    assert result.returncode == 0, result.stderr[-2000:]
    # Posts 31, 33, 34, 35 (32 is a photo) and the comments on 31 (1), 33 (2), 34 (1).
    assert _source_row(env).last_new_posts == 8
    assert len(_posts(env)) == 71
    hits = _hits(mockserver, f"n35-p10-{tag}")
    assert hits == {f"feed:since={_unix(NEWEST)}": 1,
                    **{f"comments:{i}": 1 for i in range(31, 36)}}
    assert _source_row(env).state == {"since": _unix(START + timedelta(hours=35))}  # post 35


def test_new_comment_on_an_older_post_is_found(env: Env, mockserver: str) -> None:
    env.extra_env[TOKEN_ENV] = PAGE_TOKEN
    tag = uuid.uuid4().hex[:8]
    env.write([_source(mockserver, f"n30-p10-{tag}")])
    assert env.crawl("fb").returncode == 0
    env.write([_source(mockserver, f"n30-p10-late-{tag}")])
    result = env.crawl("fb")
    assert result.returncode == 0, result.stderr[-2000:]
    assert _source_row(env).last_new_posts == 1
    late = next(p for p in _posts(env) if p.text == LATE_COMMENT)
    assert late.url == f"https://www.facebook.com/obsbmverkruisen/posts/pfbid0{POST_BASE + 1}"
    assert late.created_at == START + timedelta(hours=35)
    assert _source_row(env).state == {"since": _unix(START + timedelta(hours=35))}


def test_invalid_token_gives_graph_message_without_the_token(env: Env, mockserver: str) -> None:
    wrong = "EAAGexpiredTokenZBZCthatGraphNoLongerAcceptsZDZD"
    env.extra_env[TOKEN_ENV] = wrong
    env.write([_source(mockserver, "n30")])
    result = env.crawl("fb")
    assert result.returncode == 1
    source = _source_row(env)
    error = source.last_error
    assert error is not None
    assert "HTTP 400" in error and "Invalid OAuth access token." in error and "code 190" in error
    assert "Facebook weigert het paginatoken" in error and TOKEN_ENV in error
    assert "access_token=***" in error
    assert wrong not in error and wrong not in result.stdout + result.stderr
    assert source.state == {} and _posts(env) == []


def test_token_echoed_by_graph_is_scrubbed(env: Env, mockserver: str) -> None:
    malformed = "not-a-page-token-4711"
    env.extra_env[TOKEN_ENV] = malformed
    env.write([_source(mockserver, "n30")])
    result = env.crawl("fb")
    assert result.returncode == 1
    error = _source_row(env).last_error
    assert error is not None and "Malformed access token ***" in error
    assert malformed not in error and malformed not in result.stdout + result.stderr


def test_missing_token_fails_before_any_request(env: Env, mockserver: str) -> None:
    scenario = f"n30-{uuid.uuid4().hex[:8]}"
    env.write([_source(mockserver, scenario)])
    result = env.crawl("fb")
    assert result.returncode == 1
    error = _source_row(env).last_error
    assert error is not None and "geen paginatoken" in error and TOKEN_ENV in error
    with urllib.request.urlopen(f"{mockserver}/_stats/x") as response:
        assert f"count:facebook/{scenario}" not in json.load(response)


def test_retried_requests_log_no_token(env: Env, mockserver: str) -> None:
    # "flaky" answers 503 twice per URL: the retries are logged with the URL, which carries
    # the token as Graph wants it; every such line must show it scrubbed.
    env.extra_env[TOKEN_ENV] = PAGE_TOKEN
    env.write([_source(mockserver, "flaky")])
    result = env.crawl("fb")
    assert result.returncode == 0, result.stderr[-2000:]
    output = result.stdout + result.stderr
    assert "retry 1" in output and "access_token=***" in output
    assert PAGE_TOKEN not in output
    assert len(_posts(env)) == 63
