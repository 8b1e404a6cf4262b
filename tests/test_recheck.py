"""The daily re-check of flagged posts against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode

import pytest
from sqlalchemy import select
from sqlmodel import Session

from crawlers.recheck import RecheckReport, format_local, recheck_flagged
from store.files import store_blob
from store.models import Capture, Case, CaseEvent, CasePost, Post, School, Source
from tests.helpers.fixtures import Env

NOW = datetime(2026, 11, 23, 13, 5, tzinfo=UTC)


@dataclass
class Route:
    status: int = 200
    body: bytes = b"<html><body>Bericht</body></html>"
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    stall: float = 0.0
    dribble: float = 0.0  # seconds between single bytes of the body

    @classmethod
    def json(cls, data: object, status: int = 200) -> Route:
        return cls(status=status, body=json.dumps(data).encode(), content_type="application/json")


class Site:
    """A real HTTP server: answers per path (with query), logs every request it gets."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                site.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                route = site.routes.get(self.path, Route(status=404, body=b"no route"))
                if route.stall:
                    time.sleep(route.stall)
                try:
                    self.send_response(route.status)
                    self.send_header("Content-Type", route.content_type)
                    self.send_header("Content-Length", str(len(route.body)))
                    for key, value in route.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    if route.dribble:
                        for byte in route.body:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(route.dribble)
                    else:
                        self.wfile.write(route.body)
                except OSError:
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site() -> Iterator[Site]:
    server = Site()
    yield server
    server.close()


def _sources(site: Site) -> list[dict[str, object]]:
    return [
        {"name": "nieuws", "kind": "rss", "url": f"{site.base}/feed.xml"},
        {"name": "masto", "kind": "mastodon", "base_url": f"{site.base}/masto", "hashtags": ["verkruisen"]},
        {"name": "bsky", "kind": "bluesky", "base_url": f"{site.base}/bsky",
         "public_base_url": f"{site.base}/bsky"},
        # Not allowed to reach private addresses, although its page is on 127.0.0.1.
        {"name": "extern", "kind": "web", "urls": [f"{site.base}/extern"], "allow_private": False},
    ]


def _source_id(session: Session, name: str) -> int:
    return session.execute(select(Source.id).where(Source.name == name)).scalar_one()


def _post(session: Session, source: str, external_id: str, url: str | None, *, platform: str = "rss") -> int:
    school_id = session.execute(select(School.id)).scalars().first()
    post = Post(source_id=_source_id(session, source), school_id=school_id, platform=platform, external_id=external_id,
                url=url, text=f"BM Verkruisen {external_id}", content_sha256="0" * 64, author_handle="boos")
    session.add(post)
    session.flush()
    assert post.id is not None
    return post.id


def _case(session: Session, post_ids: list[int], status: str = "new") -> int:
    school_id = session.execute(select(School.id)).scalars().first()
    case = Case(school_id=school_id, status=status, severity="criminal", categories=["insult"])
    session.add(case)
    session.flush()
    assert case.id is not None
    for post_id in post_ids:
        session.add(CasePost(case_id=case.id, post_id=post_id))
    session.flush()
    return case.id


def _events(env: Env, case_id: int) -> list[CaseEvent]:
    with env.session() as session:
        return list(session.execute(
            select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)).scalars())


def _case_status(env: Env, case_id: int) -> str:
    with env.session() as session:
        case = session.get(Case, case_id)
        assert case is not None
        return case.status


def _removed_at(env: Env, post_id: int) -> datetime | None:
    with env.session() as session:
        post = session.get(Post, post_id)
        assert post is not None
        return post.removed_at


def test_removed_post_moves_case_to_removed_with_evidence(env_any_db: Env, site: Site) -> None:
    settings = env_any_db.write(_sources(site))
    site.routes["/p/weg"] = Route(status=404, body=b"<h1>Niet gevonden</h1> Dit bericht bestaat niet meer.")
    site.routes["/p/er"] = Route(status=200)
    with env_any_db.session() as session:
        gone = _post(session, "nieuws", "weg", f"{site.base}/p/weg")
        here = _post(session, "nieuws", "er", f"{site.base}/p/er")
        gone_case = _case(session, [gone], status="removal_requested")
        here_case = _case(session, [here], status="triaged")

    report = recheck_flagged(settings, now=NOW)

    assert report == RecheckReport(checked=2, removed=1, still_online=1, errors=0)
    assert _removed_at(env_any_db, gone) == NOW
    assert _removed_at(env_any_db, here) is None
    assert _case_status(env_any_db, gone_case) == "removed"
    detected, status = _events(env_any_db, gone_case)
    assert detected.action == "removed_detected" and detected.actor == "systeem"
    assert detected.data["url"] == f"{site.base}/p/weg"
    assert detected.data["status_code"] == 404
    assert detected.data["checked_at"] == NOW.isoformat()
    assert "bestaat niet meer" in detected.data["answer"]
    assert detected.data["post_id"] == gone
    assert "niet meer online" in detected.note and "HTTP 404" in detected.note
    assert status.action == "status" and status.data == {"from": "removal_requested", "to": "removed",
                                                          "post_id": gone}
    assert status.note == f"Bericht niet meer online (gecontroleerd {format_local(NOW)})"
    assert status.note == "Bericht niet meer online (gecontroleerd ma 23 nov 2026 14:05)"
    # Still online: nothing in the timeline, status untouched.
    assert _events(env_any_db, here_case) == []
    assert _case_status(env_any_db, here_case) == "triaged"
    # Every check identifies itself with the crawl settings' user agent.
    assert all(headers["user-agent"] == settings.crawl.user_agent for _, headers in site.requests)

    # The next day: the removed case is done, only the other post is checked again.
    site.requests.clear()
    again = recheck_flagged(settings, now=NOW)
    assert again == RecheckReport(checked=1, removed=0, still_online=1, errors=0)
    assert site.paths() == ["/p/er"]
    assert len(_events(env_any_db, gone_case)) == 2


def test_unknown_answers_are_counted_and_change_nothing(env: Env, site: Site) -> None:
    settings = env.write(_sources(site), crawl={"timeout_seconds": 1})
    answers = {"/p/500": Route(status=500), "/p/503": Route(status=503), "/p/403": Route(status=403),
               "/p/401": Route(status=401), "/p/429": Route(status=429, headers={"Retry-After": "60"}),
               "/p/traag": Route(stall=5), "/p/druppel": Route(body=b"x" * 40, dribble=0.5)}
    site.routes.update(answers)
    with env.session() as session:
        posts = [_post(session, "nieuws", path, f"{site.base}{path}") for path in answers]
        case_id = _case(session, posts)

    started = time.monotonic()
    report = recheck_flagged(settings, now=NOW)

    assert report == RecheckReport(checked=7, removed=0, still_online=0, errors=7)
    assert time.monotonic() - started < 6  # each slow server cost one timeout, no more
    assert all(_removed_at(env, post) is None for post in posts)
    assert _events(env, case_id) == []
    assert _case_status(env, case_id) == "new"


def test_case_is_removed_only_when_all_its_posts_are_gone(env_any_db: Env, site: Site) -> None:
    settings = env_any_db.write(_sources(site))
    site.routes["/p/een"] = Route(status=410, body=b"Gone")
    site.routes["/p/twee"] = Route(status=200)
    with env_any_db.session() as session:
        first = _post(session, "nieuws", "een", f"{site.base}/p/een")
        second = _post(session, "nieuws", "twee", f"{site.base}/p/twee")
        case_id = _case(session, [first, second], status="addressed")

    assert recheck_flagged(settings, now=NOW) == RecheckReport(checked=2, removed=1, still_online=1, errors=0)
    assert [e.action for e in _events(env_any_db, case_id)] == ["removed_detected"]
    assert _case_status(env_any_db, case_id) == "addressed"

    site.routes["/p/twee"] = Route(status=404)
    site.requests.clear()
    later = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    assert recheck_flagged(settings, now=later) == RecheckReport(checked=1, removed=1, still_online=0, errors=0)
    assert site.paths() == ["/p/twee"]  # the post already removed is not fetched again
    events = _events(env_any_db, case_id)
    assert [e.action for e in events] == ["removed_detected", "removed_detected", "status"]
    assert events[1].data["status_code"] == 404 and events[1].data["post_id"] == second
    assert _case_status(env_any_db, case_id) == "removed"


def test_mastodon_uses_the_status_api(env_any_db: Env, site: Site) -> None:
    settings = env_any_db.write(_sources(site))
    local_id = "109000000000000001"
    uri = f"https://school.social/users/ouder7/statuses/{local_id}"
    page = json.dumps([{"id": local_id, "uri": uri, "url": f"https://school.social/@ouder7/{local_id}",
                        "content": "<p>BM Verkruisen</p>"}]).encode()
    stored = store_blob(settings.storage.dir, page, media_type="application/json")
    site.routes[f"/masto/api/v1/statuses/{local_id}"] = Route.json({"error": "Record not found"}, status=404)
    # A status of this instance: its id is read from the URL.
    site.routes["/masto/api/v1/statuses/555"] = Route.json({"id": "555", "content": "<p>nog hier</p>"})
    with env_any_db.session() as session:
        remote = _post(session, "masto", uri, f"https://school.social/@ouder7/{local_id}", platform="mastodon")
        session.add(Capture(post_id=remote, kind="raw", path=stored.path, sha256=stored.sha256, size=stored.size,
                            media_type="application/json", url=f"{site.base}/masto/api/v1/timelines/tag/x"))
        local = _post(session, "masto", f"{site.base}/masto/users/juf/statuses/555",
                      f"{site.base}/masto/@juf/555", platform="mastodon")
        removed_case = _case(session, [remote])
        online_case = _case(session, [local])

    report = recheck_flagged(settings, now=NOW)

    assert report == RecheckReport(checked=2, removed=1, still_online=1, errors=0)
    assert sorted(site.paths()) == ["/masto/api/v1/statuses/109000000000000001", "/masto/api/v1/statuses/555"]
    detected = _events(env_any_db, removed_case)[0]
    assert detected.data["status_code"] == 404
    assert detected.data["url"] == f"{site.base}/masto/api/v1/statuses/{local_id}"
    assert "Record not found" in detected.data["answer"]
    assert "Mastodon-API" in detected.note
    assert _case_status(env_any_db, removed_case) == "removed"
    assert _events(env_any_db, online_case) == []


def test_bluesky_empty_answer_means_removed(env_any_db: Env, site: Site) -> None:
    settings = env_any_db.write(_sources(site))
    gone = "at://did:plc:abc/app.bsky.feed.post/3kgone"
    here = "at://did:plc:abc/app.bsky.feed.post/3khere"
    site.routes[f"/bsky/xrpc/app.bsky.feed.getPosts?{urlencode({'uris': gone})}"] = Route.json({"posts": []})
    site.routes[f"/bsky/xrpc/app.bsky.feed.getPosts?{urlencode({'uris': here})}"] = Route.json(
        {"posts": [{"uri": here, "record": {"text": "BM Verkruisen"}}]})
    with env_any_db.session() as session:
        gone_id = _post(session, "bsky", gone, "https://bsky.app/profile/x/post/3kgone", platform="bluesky")
        here_id = _post(session, "bsky", here, "https://bsky.app/profile/x/post/3khere", platform="bluesky")
        _case(session, [gone_id])
        _case(session, [here_id])

    assert recheck_flagged(settings, now=NOW) == RecheckReport(checked=2, removed=1, still_online=1, errors=0)
    assert _removed_at(env_any_db, gone_id) == NOW and _removed_at(env_any_db, here_id) is None


def test_x_resource_not_found_means_removed(env: Env, site: Site) -> None:
    env.extra_env["X_TOKEN"] = "sekrit-token"
    settings = env.write([{"name": "x", "kind": "x", "base_url": f"{site.base}/x", "query": "Verkruisen",
                           "bearer_token_env": "X_TOKEN"}])
    site.routes["/x/2/tweets/111"] = Route.json({"errors": [{
        "value": "111", "detail": "Could not find tweet with id: [111].", "title": "Not Found Error",
        "type": "https://api.twitter.com/2/problems/resource-not-found", "echo": "sekrit-token"}]})
    site.routes["/x/2/tweets/222"] = Route.json({"data": {"id": "222", "text": "BM Verkruisen"}})
    with env.session() as session:
        gone = _post(session, "x", "111", "https://x.com/boos/status/111", platform="x")
        here = _post(session, "x", "222", "https://x.com/boos/status/222", platform="x")
        case_id = _case(session, [gone])
        _case(session, [here])

    assert recheck_flagged(settings, now=NOW) == RecheckReport(checked=2, removed=1, still_online=1, errors=0)
    assert all(headers["authorization"] == "Bearer sekrit-token" for _, headers in site.requests)
    detected = _events(env, case_id)[0]
    assert "Could not find tweet" in detected.data["answer"]
    assert "sekrit-token" not in json.dumps(detected.data)


def test_redirects_and_addresses_outside_the_configured_hosts_are_refused(
        env: Env, site: Site, caplog: pytest.LogCaptureFixture) -> None:
    settings = env.write(_sources(site))
    other = Site()  # another local server: not configured for any source
    try:
        other.routes["/weg"] = Route(status=404)
        site.routes["/p/metadata"] = Route(status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
        site.routes["/p/lokaal"] = Route(status=301, headers={"Location": f"{other.base}/weg"})
        site.routes["/p/file"] = Route(status=302, headers={"Location": "file:///etc/passwd"})
        site.routes["/extern"] = Route(status=404)
        with env.session() as session:
            posts = [
                _post(session, "nieuws", "metadata", f"{site.base}/p/metadata"),
                _post(session, "nieuws", "lokaal", f"{site.base}/p/lokaal"),
                _post(session, "nieuws", "file", f"{site.base}/p/file"),
                _post(session, "nieuws", "direct", f"{other.base}/weg"),
                _post(session, "extern", "extern", f"{site.base}/extern", platform="web"),
                _post(session, "nieuws", "v6", "http://[::1]:9/weg"),
            ]
            case_id = _case(session, posts)

        with caplog.at_level(logging.WARNING, logger="crawlers.recheck"):
            report = recheck_flagged(settings, now=NOW)

        assert report == RecheckReport(checked=6, removed=0, still_online=0, errors=6)
        refused = [r.getMessage() for r in caplog.records if "geweigerd" in r.getMessage()]
        assert len(refused) == 6, refused
        assert any("169.254.169.254" in message for message in refused)
        assert other.requests == []  # refused before any connection
        assert "/extern" not in site.paths()  # allow_private = false: 127.0.0.1 is off limits
        assert all(_removed_at(env, post) is None for post in posts)
        assert _events(env, case_id) == []
    finally:
        other.close()


def test_only_posts_of_open_cases_are_checked(env_any_db: Env, site: Site) -> None:
    settings = env_any_db.write(_sources(site))
    for name in ("gesloten", "afgewezen", "los", "zonder-url"):
        site.routes[f"/p/{name}"] = Route(status=404)
    site.routes["/p/gecorrigeerd"] = Route(status=404)
    site.routes["/p/nagekomen"] = Route(status=200)
    with env_any_db.session() as session:
        closed = _post(session, "nieuws", "gesloten", f"{site.base}/p/gesloten")
        dismissed = _post(session, "nieuws", "afgewezen", f"{site.base}/p/afgewezen")
        _post(session, "nieuws", "los", f"{site.base}/p/los")  # in no case
        no_url = _post(session, "nieuws", "zonder-url", None)
        corrected = _post(session, "nieuws", "gecorrigeerd", f"{site.base}/p/gecorrigeerd")
        _case(session, [closed], status="closed")
        _case(session, [dismissed], status="dismissed")
        _case(session, [no_url])
        corrected_case = _case(session, [corrected], status="corrected")
        # A removed case that a later post of the same author joined: the new post is checked.
        gone = _post(session, "nieuws", "verwijderd", f"{site.base}/p/verwijderd")
        later = _post(session, "nieuws", "nagekomen", f"{site.base}/p/nagekomen")
        session.get(Post, gone).removed_at = NOW  # type: ignore[union-attr]
        _case(session, [gone, later], status="removed")

    report = recheck_flagged(settings, now=NOW)

    assert report == RecheckReport(checked=2, removed=1, still_online=1, errors=0)
    assert sorted(site.paths()) == ["/p/gecorrigeerd", "/p/nagekomen"]
    # `corrected` comes after `removed` in the workflow: the removal is recorded, the status stays.
    assert [e.action for e in _events(env_any_db, corrected_case)] == ["removed_detected"]
    assert _case_status(env_any_db, corrected_case) == "corrected"


def test_youtube_api_and_oembed(env: Env, site: Site) -> None:
    env.extra_env["YT_KEY"] = "yt-sleutel"
    settings = env.write([
        {"name": "yt", "kind": "youtube", "base_url": f"{site.base}/yt", "feed_base_url": f"{site.base}/ytfeed",
         "video_ids": ["AAAAAAAAAAA"], "api_key_env": "YT_KEY"},
        {"name": "ytvrij", "kind": "youtube", "base_url": f"{site.base}/yt", "feed_base_url": f"{site.base}/ytfeed",
         "channel_ids": ["UC" + "a" * 22]},
    ])
    site.routes["/yt/youtube/v3/videos?part=id&id=AAAAAAAAAAA"] = Route.json({"items": []})
    site.routes["/yt/youtube/v3/comments?part=id&id=Ugx1"] = Route.json({"items": [{"id": "Ugx1"}]})
    watch = urlencode({"url": "https://www.youtube.com/watch?v=BBBBBBBBBBB", "format": "json"})
    site.routes[f"/ytfeed/oembed?{watch}"] = Route(status=404, body=b"Not Found")
    with env.session() as session:
        video = _post(session, "yt", "video:AAAAAAAAAAA", "https://www.youtube.com/watch?v=AAAAAAAAAAA",
                      platform="youtube")
        comment = _post(session, "yt", "comment:Ugx1", "https://www.youtube.com/watch?v=AAAAAAAAAAA&lc=Ugx1",
                        platform="youtube")
        keyless_video = _post(session, "ytvrij", "video:BBBBBBBBBBB",
                              "https://www.youtube.com/watch?v=BBBBBBBBBBB", platform="youtube")
        keyless_comment = _post(session, "ytvrij", "comment:Ugx2",
                                "https://www.youtube.com/watch?v=BBBBBBBBBBB&lc=Ugx2", platform="youtube")
        _case(session, [video, comment, keyless_video, keyless_comment])

    report = recheck_flagged(settings, now=NOW)

    # A comment without a key cannot be checked: the watch page answers 200 for anything.
    assert report == RecheckReport(checked=4, removed=2, still_online=1, errors=1)
    assert _removed_at(env, video) == NOW and _removed_at(env, keyless_video) == NOW
    assert _removed_at(env, comment) is None and _removed_at(env, keyless_comment) is None
    api_headers = [h for p, h in site.requests if p.startswith("/yt/")]
    assert api_headers and all(h["x-goog-api-key"] == "yt-sleutel" for h in api_headers)
    assert all("x-goog-api-key" not in h for p, h in site.requests if p.startswith("/ytfeed/"))


def test_facebook_needs_a_readable_page_before_trusting_not_found(env: Env, site: Site) -> None:
    env.extra_env["FB_TOKEN"] = "fb-token"
    settings = env.write([
        {"name": "fb", "kind": "facebook_page", "base_url": f"{site.base}/fb", "page_id": "100",
         "token_env": "FB_TOKEN"},
        {"name": "fbkapot", "kind": "facebook_page", "base_url": f"{site.base}/fbkapot", "page_id": "200",
         "token_env": "FB_TOKEN"},
    ])
    query = urlencode({"fields": "id", "access_token": "fb-token"})
    not_found = Route.json({"error": {"message": "Unsupported get request.", "type": "GraphMethodException",
                                      "code": 100, "error_subcode": 33}}, status=400)
    site.routes[f"/fb/100?{query}"] = Route.json({"id": "100"})
    site.routes[f"/fb/100_1?{query}"] = not_found
    site.routes[f"/fb/100_2?{query}"] = Route.json({"id": "100_2"})
    # This token lost its rights to the page: "does not exist" then proves nothing.
    site.routes[f"/fbkapot/200?{query}"] = not_found
    site.routes[f"/fbkapot/200_1?{query}"] = not_found
    with env.session() as session:
        gone = _post(session, "fb", "100_1", "https://www.facebook.com/100/posts/1", platform="facebook")
        here = _post(session, "fb", "100_2", "https://www.facebook.com/100/posts/2", platform="facebook")
        unsure = _post(session, "fbkapot", "200_1", "https://www.facebook.com/200/posts/1", platform="facebook")
        case_id = _case(session, [gone])
        _case(session, [here, unsure])

    report = recheck_flagged(settings, now=NOW)

    assert report == RecheckReport(checked=3, removed=1, still_online=1, errors=1)
    assert _removed_at(env, unsure) is None
    detected = _events(env, case_id)[0]
    assert detected.data["url"].endswith("access_token=***")
    assert "fb-token" not in json.dumps(detected.data)
    assert site.paths().count(f"/fb/100?{query}") == 1  # the page is read once per run
