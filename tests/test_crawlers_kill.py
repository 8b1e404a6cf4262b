"""A crawl killed with SIGKILL halfway loses nothing and duplicates nothing on the next run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from sqlalchemy import func, select

from store.files import read_verified
from store.models import Capture, Post
from tests.helpers.fixtures import ROOT, Env
from tests.helpers.mockstats import capture_files, captures, posts_of, source_row

BASE_ID = 109_000_000_000_000_000
TOTAL = 2000  # 50 pages of 40, served 0.3 s apart by the "slow" scenario
EXPECTED = {f"https://school.social/users/ouder7/statuses/{BASE_ID + i}"
            for i in range(1, TOTAL + 1) if i % 3 != 1}  # the statuses that name the school


def _count(env: Env) -> int:
    with env.session() as session:
        return int(session.execute(select(func.count()).select_from(Post)).scalar_one())


def test_killed_crawl_is_completed_by_the_next_run_exactly_once(env_any_db: Env,
                                                                mockserver: str) -> None:
    env = env_any_db
    env.write([{"name": "m", "kind": "mastodon", "base_url": f"{mockserver}/mastodon/slow-n{TOTAL}",
                "hashtags": ["verkruisen"]}])
    process = subprocess.Popen(
        [sys.executable, "-m", "crawlers.run", "m", "--config", str(env.config_file)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while _count(env) == 0:
            assert process.poll() is None, "the crawl ended before it could be killed"
            assert time.monotonic() < deadline, "no posts stored within 60 s"
            time.sleep(0.1)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL

    stored_when_killed = _count(env)
    assert 0 < stored_when_killed < len(EXPECTED)  # really killed halfway
    # The crawl never finished, so its cursor never moved: the next run starts over.
    assert source_row(env, "m").state == {}

    result = env.crawl("m", timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    source = source_row(env, "m")
    assert source.last_error is None
    assert source.state == {"tag:verkruisen": str(BASE_ID + TOTAL)}
    assert source.last_new_posts == len(EXPECTED) - stored_when_killed

    posts = posts_of(env)
    external_ids = [p.external_id for p in posts]
    assert len(external_ids) == len(set(external_ids))  # no post stored twice
    assert set(external_ids) == EXPECTED  # and none lost

    rows = captures(env)
    per_post: dict[int, list[Capture]] = {}
    for capture in rows:
        per_post.setdefault(capture.post_id, []).append(capture)
    assert set(per_post) == {p.id for p in posts}
    storage = env.path / "storage"
    for post in posts:
        [capture] = per_post[post.id]  # exactly one capture per post
        assert capture.kind == "raw"
        read_verified(storage, capture.path, capture.sha256)  # exists, matches its SHA-256
    # Every capture file on disk is one a post refers to (the kill left no orphans).
    on_disk = {p.relative_to(storage).as_posix() for p in capture_files(env)}
    assert on_disk == {c.path for c in rows}
