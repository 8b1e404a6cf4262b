"""What keeps the dashboard fast under load (issue 5, speed) without showing stale pages:
the versioned page-data cache, the data version, audit appends of page views from many
threads, and the dashboard served by several worker processes."""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from classifier.labels import severity_for
from dashboard.app import KEEPALIVE_REQUESTS
from dashboard.cache import VersionedCache
from store import workflow
from store.audit import record_committed, verify_chain
from store.cases import open_or_join_case
from store.classifications import add_classification, latest_classification
from store.db import make_engine, session_scope
from store.feedback import add_feedback
from store.files import store_blob
from store.models import AuditEntry, Case, Post, Source
from store.overview import data_version
from store.posts import NewPost, insert_posts
from store.types import utcnow
from tests.helpers import web
from tests.helpers.fixtures import ROOT, Env

DIRECTOR = "directeur@school.example"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
SOURCE = {"name": "rss-x", "kind": "rss", "url": "http://127.0.0.1:9/feed.xml"}


def flagged_post(env: Env, text: str, *, categories: tuple[str, ...] = ("threat",)) -> tuple[int, int | None]:
    """A crawled post, its classification and its case, as the classify job stores them:
    (post id, case id)."""
    settings = env.settings()
    with env.session() as session:
        source = session.execute(select(Source).where(Source.name == SOURCE["name"])).scalars().one()
        raw = store_blob(settings.storage.dir, text.encode("utf-8"), media_type="text/plain")
        [post_id] = insert_posts(session, posts=[NewPost(
            source_id=source.id, school_id=source.school_id, platform="rss",  # type: ignore[arg-type]
            external_id=hashlib.sha256(f"{text}{time.time_ns()}".encode()).hexdigest()[:20], text=text,
            content_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(), capture=raw, capture_url=None,
            capture_media_type="text/plain", created_at=utcnow() - timedelta(minutes=5))])
        post = session.get(Post, post_id)
        row = add_classification(session, post_id=post_id, model="m", version="1", language="nl",
                                 sentiment="negative", sentiment_score=0.9, scores={}, categories=list(categories),
                                 explanations={}, severity=severity_for("negative", list(categories)))
        case = open_or_join_case(session, post=post, classification=row)  # type: ignore[arg-type]
        return post_id, (int(case.id) if case is not None else None)  # type: ignore[arg-type]


# -- VersionedCache -------------------------------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_cache_recomputes_when_the_version_changes_and_after_the_ttl() -> None:
    clock = Clock()
    cache = VersionedCache(ttl_seconds=30, clock=clock)
    calls: list[int] = []

    def compute(value: int) -> int:
        calls.append(value)
        return value

    assert cache.get("k", (1,), lambda: compute(1)) == 1
    assert cache.get("k", (1,), lambda: compute(2)) == 1  # same version: cached
    assert cache.get("k", (2,), lambda: compute(3)) == 3  # the data changed
    clock.now += 29
    assert cache.get("k", (2,), lambda: compute(4)) == 3
    clock.now += 2  # past the TTL: a deletion the version cannot see shows within it
    assert cache.get("k", (2,), lambda: compute(5)) == 5
    assert calls == [1, 3, 5]
    assert (cache.hits, cache.misses) == (2, 3)


def test_cache_keeps_keys_apart_and_drops_the_least_recently_used() -> None:
    cache = VersionedCache(max_entries=2)
    cache.get("a", 1, lambda: "A")
    cache.get("b", 1, lambda: "B")
    assert cache.get("a", 1, lambda: "new A") == "A"  # "a" is now the most recently used
    cache.get("c", 1, lambda: "C")  # evicts "b"
    assert cache.get("b", 1, lambda: "new B") == "new B"
    assert cache.get("c", 1, lambda: "new C") == "C"


def test_cache_error_is_not_cached() -> None:
    cache = VersionedCache()

    def broken() -> str:
        raise RuntimeError("database gone")

    with pytest.raises(RuntimeError):
        cache.get("k", 1, broken)
    assert cache.get("k", 1, lambda: "ok") == "ok"


# -- the data version -----------------------------------------------------------------------------

def test_requests_for_a_missing_value_at_once_compute_it_once() -> None:
    cache = VersionedCache()
    started, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def slow() -> str:
        calls.append(1)
        started.set()
        assert release.wait(30)
        return "snapshot"

    results: list[str] = []
    leader = threading.Thread(target=lambda: results.append(cache.get("k", 1, slow)))
    leader.start()
    assert started.wait(30)
    others = [threading.Thread(target=lambda: results.append(cache.get("k", 1, slow))) for _ in range(8)]
    for thread in others:
        thread.start()
    time.sleep(0.2)  # all eight are waiting for the leader's computation now
    release.set()
    for thread in [leader, *others]:
        thread.join(timeout=30)
    assert results == ["snapshot"] * 9
    assert len(calls) == 1
    assert cache.get("k", 2, lambda: "newer") == "newer"  # a new version is computed anew


def test_when_the_shared_computation_fails_the_waiting_requests_compute_for_themselves() -> None:
    cache = VersionedCache()
    started, release = threading.Event(), threading.Event()

    def failing() -> str:
        started.set()
        assert release.wait(30)
        raise RuntimeError("database gone")

    outcome: list[object] = []

    def lead() -> None:
        try:
            cache.get("k", 1, failing)
        except RuntimeError as exc:
            outcome.append(exc)

    leader = threading.Thread(target=lead)
    leader.start()
    assert started.wait(30)
    follower = threading.Thread(target=lambda: outcome.append(cache.get("k", 1, lambda: "own")))
    follower.start()
    time.sleep(0.2)
    release.set()
    for thread in (leader, follower):
        thread.join(timeout=30)
    assert sorted(map(str, outcome)) == ["database gone", "own"]
    assert cache.get("k", 1, lambda: "later") == "later"  # nothing of the failure was kept


def test_data_version_moves_with_posts_classifications_verdicts_and_cases(env_any_db: Env) -> None:
    env_any_db.write([SOURCE])
    versions = []
    with env_any_db.session() as session:
        versions.append(data_version(session))
    post_id, case_id = flagged_post(env_any_db, "Ik maak die juf van Verkruisen af")
    assert case_id is not None
    with env_any_db.session() as session:
        versions.append(data_version(session))
        assert data_version(session) == versions[-1]  # nothing changed: the same version
        classification = latest_classification(session, post_id=post_id)
        add_feedback(session, post_id=post_id, classification=classification, user_id=None, verdict="confirmed")
    with env_any_db.session() as session:
        versions.append(data_version(session))
        case = session.get(Case, case_id)
        workflow.add_note(session, case, note="gebeld", actor="directeur", actor_id=None)  # type: ignore[arg-type]
    with env_any_db.session() as session:
        versions.append(data_version(session))
    assert len(set(versions)) == len(versions), versions


# -- pages stay current ---------------------------------------------------------------------------

def test_overview_and_queue_show_a_new_flagged_post_at_once(env: Env) -> None:
    settings = env.write([SOURCE])
    web.make_user(env, DIRECTOR, "director")
    client = web.client(settings)
    web.login(client, DIRECTOR)
    assert "Niets te beoordelen" in client.get("/review").text
    first = client.get("/").text
    flagged_post(env, "Ik maak die meester van Verkruisen af")
    queue = client.get("/review").text
    assert "Ik maak die meester van Verkruisen af" in queue
    assert "1 bericht te beoordelen" in queue
    assert client.get("/").text != first  # this week's counts moved
    # The item list is cached, but each viewer's forms carry their own CSRF token.
    other = web.client(settings)
    web.login(other, DIRECTOR)
    mine, theirs = set(_TOKEN.findall(queue)), set(_TOKEN.findall(other.get("/review").text))
    assert len(mine) == 1 and len(theirs) == 1 and mine != theirs


# -- audit appends from many threads ------------------------------------------------------------------

def test_page_views_from_many_threads_keep_one_valid_chain(env_any_db: Env) -> None:
    settings = env_any_db.write([])
    engine = make_engine(settings.database.url)
    errors: list[BaseException] = []

    def view(n: int) -> None:
        try:
            with session_scope(engine) as session:
                session.execute(select(func.count()).select_from(Post))  # the page's own read
                record_committed(session, actor=f"user{n}@school.example", action="case_view",
                                 object_type="case", object_id=n)
        except BaseException as exc:
            errors.append(exc)

    try:
        threads = [threading.Thread(target=view, args=(n,)) for n in range(30)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors, errors
        with session_scope(engine) as session:
            assert session.execute(select(func.count()).select_from(AuditEntry)).scalar_one() == 30
            assert verify_chain(session).ok
    finally:
        engine.dispose()


# -- several worker processes -------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served(env: Env) -> Iterator[tuple[Env, str, int]]:
    """`schoolwacht serve` with `[dashboard] workers = 2`: (installation, base URL, pid)."""
    port = _free_port()
    env.write([SOURCE], dashboard={"port": port, "workers": 2})
    web.make_user(env, DIRECTOR, "director")
    process = subprocess.Popen([sys.executable, "-c", "from schoolwacht.cli import main; main()",
                                "--config", str(env.config_file), "serve"], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=dict(os.environ))
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stdout.read().decode()  # type: ignore[union-attr]
            try:
                if httpx.get(f"{base}/login", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the dashboard did not start"
            time.sleep(0.3)
        yield env, base, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _workers(pid: int) -> list[int]:
    """Child processes of uvicorn's supervisor, less multiprocessing's resource tracker."""
    children = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return [c for c in children if b"resource_tracker" not in Path(f"/proc/{c}/cmdline").read_bytes()]


def test_serve_with_two_workers_answers_and_audits_every_view(served: tuple[Env, str, int]) -> None:
    env, base, pid = served
    assert len(_workers(pid)) == 2
    _, case_id = flagged_post(env, "Ik steek die directeur van Verkruisen neer")
    login = httpx.Client(base_url=base)
    token = _TOKEN.search(login.get("/login").text).group(1)  # type: ignore[union-attr]
    assert login.post("/login", data={"email": DIRECTOR, "password": web.PASSWORD, "csrf_token": token,
                                      "next": "/"}, follow_redirects=False).status_code == 303
    cookies = dict(login.cookies)
    statuses: list[int] = []

    def views() -> None:
        for _ in range(5):  # a fresh connection each time: the kernel spreads them over both workers
            with httpx.Client(base_url=base, cookies=cookies, timeout=30) as fresh:
                statuses.append(fresh.get(f"/cases/{case_id}").status_code)

    threads = [threading.Thread(target=views) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert statuses == [200] * 30
    with env.session() as session:
        views_recorded = session.execute(select(func.count()).select_from(AuditEntry)
                                         .where(AuditEntry.action == "case_view")).scalar_one()
        assert views_recorded == 30
        assert verify_chain(session).ok


def test_with_two_workers_a_keepalive_connection_is_closed_after_its_quota(served: tuple[Env, str, int]) -> None:
    """A browser's connection goes back to the accept queue every KEEPALIVE_REQUESTS responses, so
    busy users spread over the worker processes again (dashboard.app.KeepAliveLimit)."""
    _env, base, _pid = served
    port = int(base.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        for round_ in range(2):  # the count starts again on the new connection
            sockets, closing = set(), []
            for _ in range(KEEPALIVE_REQUESTS):
                connection.request("GET", "/login")
                response = connection.getresponse()
                response.read()
                assert response.status == 200
                if connection.sock is not None:
                    sockets.add(id(connection.sock))
                closing.append((response.getheader("connection") or "").lower() == "close")
            assert closing == [False] * (KEEPALIVE_REQUESTS - 1) + [True], round_
            assert len(sockets) == 1  # one connection for the whole quota
            assert connection.sock is None  # the client saw the close
    finally:
        connection.close()


def test_run_with_two_workers_serves_the_dashboard_and_sigterm_stops_every_process(env: Env) -> None:
    port = _free_port()
    env.write([SOURCE], dashboard={"port": port, "workers": 2})
    process = subprocess.Popen([sys.executable, "-c", "from schoolwacht.cli import main; main()",
                                "--config", str(env.config_file), "run"], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, process.stdout.read()  # type: ignore[union-attr]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/login", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the dashboard did not start"
            time.sleep(0.3)
        [serve] = [c for c in _workers(process.pid) if b"serve" in Path(f"/proc/{c}/cmdline").read_bytes()]
        workers = _workers(serve)
        assert len(workers) == 2
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        time.sleep(0.5)
        left = [pid for pid in [serve, *workers] if Path(f"/proc/{pid}").exists()
                and b"Z" not in Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1][:3]]
        assert not left, f"processes left running: {left}"
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/login", timeout=2)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
