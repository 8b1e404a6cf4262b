"""Web spider in the real Scrapy engine against the fake web pages (tests/mockserver/platforms/web.py)."""

from __future__ import annotations

import hashlib
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta

from store.files import read_verified
from tests.helpers.fixtures import Env
from tests.helpers.mockstats import captures, paths, posts_of, request_log, source_row


def _scenario(prefix: str) -> str:
    # Each test its own scenario: the fake server lives for the whole session.
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_forum_page_keeps_only_the_paragraphs_naming_the_school(env_any_db: Env,
                                                                mockserver: str) -> None:
    base = f"{mockserver}/web/{_scenario('forum')}"
    forum, weather = f"{base}/forum/scholen-muntendam", f"{base}/nieuws/weer"
    env_any_db.write([{"name": "w", "kind": "web", "urls": [forum, weather]}])
    result = env_any_db.crawl("w")
    assert result.returncode == 0, result.stderr[-2000:]

    posts = posts_of(env_any_db)
    assert len(posts) == 1  # the weather page does not mention the school
    post = posts[0]
    assert post.text == (
        "Onze zoon zit op BM Verkruisen en de juf van groep 3 is geweldig, echt een aanrader.\n\n"
        "Ik hoorde dat de fusieschool Muntendam volgend jaar een nieuw gebouw krijgt, klopt dat?"
    )
    # Boilerplate names the school too, but is not part of the page's text.
    for boilerplate in ("cookies", "Schoolpagina", "Partners", "tracking", "Wij twijfelen"):
        assert boilerplate not in post.text
    assert post.platform == "web"
    assert post.url == forum
    assert post.external_id == f"{forum}#{_sha(post.text)[:16]}"
    assert post.created_at.replace(tzinfo=UTC) == datetime(2026, 9, 14, 8, 0, tzinfo=UTC)
    assert post.language == "nl"
    assert post.matched_phrase == "BM Verkruisen"

    [capture] = captures(env_any_db)
    assert capture.post_id == post.id and capture.media_type == "text/html; charset=utf-8"
    raw = read_verified(env_any_db.path / "storage", capture.path, capture.sha256)
    assert b"cookie-banner" in raw  # the page exactly as fetched, boilerplate and all

    source = source_row(env_any_db, "w")
    assert source.last_error is None
    assert source.state == {f"page:{forum}": _sha(post.text), f"page:{weather}": _sha("")}

    again = env_any_db.crawl("w")
    assert again.returncode == 0, again.stderr[-2000:]
    assert len(posts_of(env_any_db)) == 1
    assert source_row(env_any_db, "w").last_new_posts == 0


def test_changed_page_adds_a_version_unchanged_page_adds_nothing(env: Env, mockserver: str) -> None:
    scenario = _scenario("change")
    base = f"{mockserver}/web/{scenario}"
    page = f"{base}/changing"
    env.write([{"name": "w", "kind": "web", "urls": [page]}])

    before = datetime.now(UTC)
    assert env.crawl("w").returncode == 0
    after = datetime.now(UTC)
    [first] = posts_of(env)
    assert "verplaatst naar donderdag" in first.text
    # The page declares no date: the post is dated when it was fetched.
    assert before - timedelta(seconds=1) <= first.created_at.replace(tzinfo=UTC) <= after

    assert env.crawl("w").returncode == 0
    assert len(posts_of(env)) == 1
    assert source_row(env, "w").last_new_posts == 0

    urllib.request.urlopen(f"{base}/_version?set=2", timeout=10).read()
    result = env.crawl("w")
    assert result.returncode == 0, result.stderr[-2000:]
    first_again, second = posts_of(env)
    assert first_again.text == first.text  # the old version stays, as evidence
    assert "gaat helemaal niet door" in second.text
    assert second.url == first.url == page
    assert first.external_id != second.external_id
    assert second.external_id == f"{page}#{_sha(second.text)[:16]}"
    assert source_row(env, "w").state == {f"page:{page}": _sha(second.text)}
    assert paths(mockserver, f"web/{scenario}").count(page.removeprefix(mockserver)) == 3


def test_page_disallowed_by_robots_txt_is_never_fetched(env: Env, mockserver: str) -> None:
    scenario = _scenario("robots")
    base = f"{mockserver}/web/{scenario}"
    forum, weather = f"{base}/forum/scholen-muntendam", f"{base}/nieuws/weer"
    private = f"{base}/private/verslag"
    robots_before = len(request_log(mockserver, "_robots/"))
    # Several pages on one host: the private one waits for robots.txt behind the others
    # (Scrapy 2.13+ let such waiters through; crawlers.middlewares.RobotsTxtMiddleware).
    env.write([{"name": "w", "kind": "web", "urls": [forum, weather, private]}])
    result = env.crawl("w")

    assert result.returncode == 1
    source = source_row(env, "w")
    assert source.last_error == f"robots.txt verbiedt het ophalen van {private}"
    assert f"page:{private}" not in source.state
    fetched = paths(mockserver, f"web/{scenario}")
    assert not [p for p in fetched if "/private/" in p]
    assert sorted(fetched) == sorted(u.removeprefix(mockserver) for u in (forum, weather))
    # robots.txt itself was fetched (through the address guard: 127.0.0.1 is trusted here).
    assert len(request_log(mockserver, "_robots/")) == robots_before + 1
    assert [p.url for p in posts_of(env)] == [forum]  # the allowed pages still count


def test_markup_quoted_in_a_page_is_stored_verbatim_scripts_are_not(env: Env,
                                                                   mockserver: str) -> None:
    page = f"{mockserver}/web/{_scenario('script')}/forum/script"
    env.write([{"name": "w", "kind": "web", "urls": [page]}])
    result = env.crawl("w")
    assert result.returncode == 0, result.stderr[-2000:]
    [post] = posts_of(env)
    assert 'Iemand plakte dit: <script>alert("xss")</script> over Verkruisen.' in post.text
    assert '<img src=x onerror="alert(1)">' in post.text
    # Real <script> elements are code, not text a person wrote.
    assert "gehackt" not in post.text and "geheim-trackingscript" not in post.text


def test_match_false_keeps_the_whole_page(env: Env, mockserver: str) -> None:
    page = f"{mockserver}/web/{_scenario('own')}/nieuws/weer"
    env.write([{"name": "w", "kind": "web", "urls": [page], "match": False}])
    result = env.crawl("w")
    assert result.returncode == 0, result.stderr[-2000:]
    [post] = posts_of(env)
    paragraphs = post.text.split("\n\n")
    assert sorted(paragraphs) == [
        "Het weer in Muntendam",
        "In het weekend volgt regen, vooral op zondagmiddag en -avond.",
        "Morgen wordt het zonnig in Muntendam en omgeving, met weinig wind.",
    ]
    assert post.external_id == f"{page}#{_sha(post.text)[:16]}"
    assert post.matched_phrase is None
