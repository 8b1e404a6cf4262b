"""Mastodon spider in the real Scrapy engine against the fake Mastodon API."""

from __future__ import annotations

from sqlalchemy import select

from store.models import Capture, Post, Source
from tests.helpers.fixtures import Env


def _posts(env: Env) -> list[Post]:
    with env.session() as session:
        return list(session.execute(select(Post).order_by(Post.id)).scalars())


def test_tag_timeline_first_crawl_stores_matching_posts_once(env_any_db: Env, mockserver: str) -> None:
    env_any_db.write([{"name": "m", "kind": "mastodon", "base_url": f"{mockserver}/mastodon/n100",
                       "hashtags": ["verkruisen"]}])
    result = env_any_db.crawl("m")
    assert result.returncode == 0, result.stderr[-2000:]
    posts = _posts(env_any_db)
    # 100 statuses over three pages; those with i % 3 != 1 mention the school.
    assert len(posts) == 66
    assert {p.matched_phrase for p in posts} == {"BM Verkruisen"}
    first = posts[0]
    assert first.platform == "mastodon"
    assert first.external_id.startswith("https://school.social/users/ouder7/statuses/")
    assert first.author_handle == "ouder7@school.social"
    assert first.created_at.tzinfo is not None
    with env_any_db.session() as session:
        source = session.execute(select(Source).where(Source.name == "m")).scalar_one()
        assert source.state == {"tag:verkruisen": str(109_000_000_000_000_100)}
        assert source.last_error is None
        captures = list(session.execute(select(Capture)).scalars())
    assert len(captures) == 66
    assert all(c.kind == "raw" and len(c.sha256) == 64 for c in captures)
    assert len({c.path for c in captures}) == 3  # one file per fetched page

    again = env_any_db.crawl("m")
    assert again.returncode == 0
    assert len(_posts(env_any_db)) == 66


def test_incremental_crawl_asks_min_id_and_adds_only_new(env: Env, mockserver: str) -> None:
    env.write([{"name": "m", "kind": "mastodon", "base_url": f"{mockserver}/mastodon/n50",
                "hashtags": ["verkruisen"]}])
    assert env.crawl("m").returncode == 0
    assert len(_posts(env)) == 33
    env.write([{"name": "m", "kind": "mastodon", "base_url": f"{mockserver}/mastodon/n130",
                "hashtags": ["verkruisen"]}])
    result = env.crawl("m")
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(_posts(env)) == 86  # statuses i with i % 3 != 1 mention the school
    with env.session() as session:
        source = session.execute(select(Source)).scalars().first()
        assert source is not None and source.last_new_posts == 53


def test_html_in_posts_is_stored_verbatim_as_text(env: Env, mockserver: str) -> None:
    env.write([{"name": "m", "kind": "mastodon", "base_url": f"{mockserver}/mastodon/hostile-n3",
                "hashtags": ["x"]}])
    assert env.crawl("m").returncode == 0
    texts = sorted(p.text for p in _posts(env))
    assert any(t.startswith('<script>alert("xss")</script> Verkruisen') for t in texts)
    assert any('<img src=x onerror="alert(1)">' in t for t in texts)


def test_account_statuses_by_handle_lookup(env: Env, mockserver: str) -> None:
    env.write([{"name": "m", "kind": "mastodon", "base_url": f"{mockserver}/mastodon/normal",
                "accounts": ["@juf@school.social"]}])
    result = env.crawl("m")
    assert result.returncode == 0, result.stderr[-2000:]
    posts = _posts(env)
    assert len(posts) == 30  # 45 statuses, 2 in 3 mention the school
    assert {p.author_handle for p in posts} == {"ouder42@school.social"}


def test_token_required_gives_clear_error(env: Env, mockserver: str) -> None:
    env.write([{"name": "m", "kind": "mastodon", "base_url": f"{mockserver}/mastodon/auth",
                "hashtags": ["x"]}])
    result = env.crawl("m")
    assert result.returncode == 1
    with env.session() as session:
        source = session.execute(select(Source).where(Source.name == "m")).scalar_one()
    assert source.last_error is not None and "HTTP 401" in source.last_error
    assert source.state == {}
