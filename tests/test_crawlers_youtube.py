"""YouTube spider in the real Scrapy engine against a fake youtube.com feed and Data API."""

from __future__ import annotations

import json
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from crawlers.spiders.base import redact
from store.models import Capture, Post, Source
from tests.helpers.fixtures import Env
from tests.mockserver.platforms.youtube import API_KEY, CHANNEL, EXTRA_VIDEO

START = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
BIG = "kErStMaRkT1"  # 250 comments: three pages of 100


def _posts(env: Env) -> dict[str, Post]:
    with env.session() as session:
        return {p.external_id: p for p in session.execute(select(Post)).scalars()}


def _source(env: Env) -> Source:
    with env.session() as session:
        return session.execute(select(Source).where(Source.name == "yt")).scalar_one()


def _write(env: Env, mockserver: str, scenario: str, *, key: str | None = API_KEY,
           key_env: str | None = "YT_KEY", **extra: object) -> None:
    if key is not None:
        env.extra_env["YT_KEY"] = key
    base = f"{mockserver}/youtube/{scenario}"
    source: dict[str, object] = {"name": "yt", "kind": "youtube", "base_url": base,
                                 "feed_base_url": base, "channel_ids": [CHANNEL], **extra}
    if key_env:
        source["api_key_env"] = key_env
    env.write([source])


def _api_hits(mockserver: str, scenario: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{mockserver}/_stats/all/") as response:
        stats = json.load(response)
    prefix = f"api:{scenario}:"
    return {k.removeprefix(prefix): v for k, v in stats.items() if k.startswith(prefix)}


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def test_videos_and_comment_threads_stored_and_paged(env_any_db: Env, mockserver: str) -> None:
    scenario = f"n-{uuid.uuid4().hex[:8]}"
    _write(env_any_db, mockserver, scenario, video_ids=[EXTRA_VIDEO])
    result = env_any_db.crawl("yt")
    assert result.returncode == 0, result.stderr[-3000:]
    posts = _posts(env_any_db)
    videos = {k for k in posts if k.startswith("video:")}
    comments = {k for k in posts if k.startswith("comment:")}
    # 2 of 3 videos mention the school (one only in its description); of the comments,
    # 2 in 3 do: 166 of 250 on the big video, 3 of 5, and 2 of 3 on the configured video.
    assert videos == {"video:kErStMaRkT1", "video:oPeNdAg2026"}
    assert len(comments) == 166 + 3 + 2
    assert {p.platform for p in posts.values()} == {"youtube"}

    video = posts["video:kErStMaRkT1"]
    assert video.text == ("Kerstmarkt obs BM Verkruisen 2026\n\n"
                          "Een impressie van de kerstmarkt op obs BM Verkruisen.\n"
                          "Met dank aan alle ouders!")
    assert video.url == "https://www.youtube.com/watch?v=kErStMaRkT1"
    assert video.author_handle == CHANNEL and video.author_name == "obs BM Verkruisen"
    assert _aware(video.created_at) == START

    comment = posts["comment:UgzkErS00249x4AaABAg"]
    assert comment.text == "Wat een mooie kerstmarkt bij BM Verkruisen!"
    assert comment.url == "https://www.youtube.com/watch?v=kErStMaRkT1&lc=UgzkErS00249x4AaABAg"
    assert comment.author_handle == "@ouder4" and comment.author_name == "@ouder4"
    assert _aware(comment.created_at) == START + timedelta(minutes=249)
    assert "comment:UgzkErS00002x4AaABAg" in posts  # among the oldest, on the third page

    source = _source(env_any_db)
    assert source.last_error is None  # comments disabled on one video is no error
    assert source.state == {
        f"channel:{CHANNEL}": "2026-09-01T10:30:00+00:00",
        f"comments:channel:{CHANNEL}": "2026-09-01T12:10:00+00:00",
        f"comments:video:{BIG}": "2026-09-01T12:10:00+00:00",
        "comments:video:sPoRtDaG026": "2026-09-01T09:05:00+00:00",
        f"comments:video:{EXTRA_VIDEO}": "2026-09-01T08:03:00+00:00",
    }
    hits = _api_hits(mockserver, scenario)
    assert hits[f"{BIG}:first"] == 1 and hits[f"{BIG}:next"] == 2
    assert hits[f"{CHANNEL}:first"] == 1 and hits[f"{CHANNEL}:next"] == 2
    assert hits["oPeNdAg2026:first"] == 1  # asked once, answered commentsDisabled
    # The key went in a header: never in a URL, a log line or a capture.
    assert API_KEY not in result.stdout + result.stderr
    with env_any_db.session() as session:
        assert all(API_KEY not in (c.url or "") for c in session.execute(select(Capture)).scalars())

    again = env_any_db.crawl("yt")
    assert again.returncode == 0, again.stderr[-3000:]
    assert _posts(env_any_db).keys() == posts.keys()
    assert _source(env_any_db).last_new_posts == 0
    hits = _api_hits(mockserver, scenario)
    # Newest first: the first page already reaches the high-water mark, so no paging.
    assert hits[f"{BIG}:first"] == 2 and hits[f"{BIG}:next"] == 2
    assert hits[f"{CHANNEL}:next"] == 2


def test_new_comments_are_read_without_paging_through_old_ones(env: Env, mockserver: str) -> None:
    scenario = f"growing-{uuid.uuid4().hex[:8]}"
    _write(env, mockserver, scenario)
    assert env.crawl("yt").returncode == 0
    before = set(_posts(env))
    result = env.crawl("yt")
    assert result.returncode == 0, result.stderr[-3000:]
    added = set(_posts(env)) - before
    # Comments 251 and 252 both mention the school; the channel listing has them too.
    assert added == {"comment:UgzkErS00251x4AaABAg", "comment:UgzkErS00252x4AaABAg"}
    source = _source(env)
    assert source.last_new_posts == 2
    assert source.state[f"comments:video:{BIG}"] == "2026-09-01T12:12:00+00:00"
    assert _api_hits(mockserver, scenario)[f"{BIG}:next"] == 2  # only the first crawl paged


def test_without_api_key_only_feeds_are_read(env: Env, mockserver: str) -> None:
    scenario = f"n-{uuid.uuid4().hex[:8]}"
    _write(env, mockserver, scenario, key=None, key_env=None)
    result = env.crawl("yt")
    assert result.returncode == 0, result.stderr[-3000:]
    assert set(_posts(env)) == {"video:kErStMaRkT1", "video:oPeNdAg2026"}
    source = _source(env)
    assert source.last_error is None
    assert source.state == {f"channel:{CHANNEL}": "2026-09-01T10:30:00+00:00"}
    assert _api_hits(mockserver, scenario) == {}


def test_wrong_api_key_gives_clear_error_without_the_key(env: Env, mockserver: str) -> None:
    wrong = "AIzaSyWRONG-do-not-leak-4242"
    _write(env, mockserver, f"n-{uuid.uuid4().hex[:8]}", key=wrong)
    result = env.crawl("yt")
    assert result.returncode == 1
    source = _source(env)
    assert source.last_error is not None
    assert "YouTube weigert de API-sleutel (HTTP 400: API key not valid. Please pass a valid " \
           "API key.)" in source.last_error
    assert "/youtube/v3/commentThreads?" in source.last_error
    assert wrong not in source.last_error
    assert wrong not in result.stdout + result.stderr
    # The feed needs no key: its videos are stored, and only its cursor moves.
    assert set(_posts(env)) == {"video:kErStMaRkT1", "video:oPeNdAg2026"}
    assert set(source.state) == {f"channel:{CHANNEL}"}


def test_missing_key_variable_is_reported_and_feeds_still_read(env: Env,
                                                               mockserver: str) -> None:
    _write(env, mockserver, "normal", key=None, key_env="YT_KEY_NOT_SET")
    result = env.crawl("yt")
    assert result.returncode == 1
    assert _source(env).last_error == (
        "API-sleutel ontbreekt: omgevingsvariabele YT_KEY_NOT_SET is leeg of niet gezet; "
        "alleen de kanaalfeeds zijn gelezen")
    assert len(_posts(env)) == 2


@pytest.mark.parametrize(("scenario", "expected"), [
    ("wrongtype", "verwacht een RSS- of Atom-feed, kreeg text/html"),  # a consent page
    ("badutf8", "ongeldige UTF-8 op byte 28"),
])
def test_unreadable_channel_feed_gives_clear_error(env: Env, mockserver: str, scenario: str,
                                                   expected: str) -> None:
    _write(env, mockserver, scenario, key=None, key_env=None)
    result = env.crawl("yt")
    assert result.returncode == 1
    source = _source(env)
    assert source.last_error == (f"{mockserver}/youtube/{scenario}/feeds/videos.xml?"
                                 f"channel_id={CHANNEL}: {expected}")
    assert source.state == {} and _posts(env) == {}


@pytest.mark.parametrize(("scenario", "video", "expected"), [
    ("wrongtype", EXTRA_VIDEO, "verwacht JSON, kreeg text/html"),
    ("normal", "xXxXxXxXxX1", "video of kanaal niet gevonden (HTTP 404: The video identified "
                              "by the videoId parameter could not be found.)"),
])
def test_api_failure_gives_clear_error(env: Env, mockserver: str, scenario: str, video: str,
                                       expected: str) -> None:
    _write(env, mockserver, scenario, channel_ids=[], video_ids=[video])
    result = env.crawl("yt")
    assert result.returncode == 1
    source = _source(env)
    assert source.last_error is not None
    assert source.last_error.startswith(f"{mockserver}/youtube/{scenario}/youtube/v3/"
                                        f"commentThreads?part=snippet&videoId={video}&")
    assert source.last_error.endswith(f": {expected}"), source.last_error
    assert source.state == {}


def test_redact_hides_api_keys_in_urls() -> None:
    url = ("https://www.googleapis.com/youtube/v3/commentThreads?part=snippet&videoId=abc"
           f"&key={API_KEY}")
    redacted = redact(url)
    assert API_KEY not in redacted
    assert "key=***" in redacted and "videoId=abc" in redacted
