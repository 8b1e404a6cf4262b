"""The crawl subprocess of a running service is killed with SIGKILL halfway.

tests/test_crawlers_kill.py kills a crawl started on its own. Here the service started it
(`schoolwacht run` -> scheduler job -> `python -m crawlers.run`): the service must survive
its child's death, record a clear error on the source, keep its dashboard answering and
leave the cursor alone; the next crawl (`schoolwacht crawl`, while the service still runs)
then stores every post of the source exactly once and moves the cursor to the newest post.
"""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from store.models import Capture
from tests.faults.helpers import (
    Service,
    assert_posts_once,
    cli,
    crawl_children,
    local_source,
    mail_sections,
    newest_cursor,
    post_counts,
    source_row,
    switch_fault,
    tag_statuses,
    wait_for,
)
from tests.helpers.fixtures import Env

TOTAL = 600  # 15 pages of 40, half a second each; 400 statuses name the school


def test_service_survives_a_killed_crawl_and_the_next_crawl_completes_it(
        env: Env, mockserver: str, smtp_server: Any, services: Callable[..., Service]) -> None:
    token = f"k{uuid.uuid4().hex[:12]}"
    env.write([local_source(mockserver, token, name="m")], **mail_sections(smtp_server.port))
    switch_fault(mockserver, token, "slow:0.5", total=TOTAL)
    service = services(env)

    [child] = wait_for(lambda: crawl_children(env, "m"), 60, "the service's crawl subprocess")
    wait_for(lambda: sum(post_counts(env).values()) > 0, 60, "the first stored batch")
    os.kill(child, signal.SIGKILL)
    wait_for(lambda: "crawl:m: exit -9" in service.output(), 30, "the service to see its child die")

    stored_when_killed = sum(post_counts(env).values())
    assert 0 < stored_when_killed < len(tag_statuses(TOTAL))  # really killed halfway
    source = source_row(env, "m")
    assert source.last_error is not None and "crawlproces faalde" in source.last_error, source.last_error
    assert "SIGKILL" in source.last_error, source.last_error
    assert source.state == {}  # the cursor did not move
    assert service.alive()
    service.wait_answering(30)

    switch_fault(mockserver, token, "ok")
    result = cli(env, "crawl", "--source", "m")
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert result.stdout.strip() == f"m: {len(tag_statuses(TOTAL)) - stored_when_killed} new posts"

    assert_posts_once(env, tag_statuses(TOTAL))
    source = source_row(env, "m")
    assert source.last_error is None
    assert source.state == newest_cursor(TOTAL)
    with env.session() as session:
        per_post = session.execute(select(Capture.post_id, func.count()).group_by(Capture.post_id)).all()
    assert len(per_post) == len(tag_statuses(TOTAL)) and all(n == 1 for _, n in per_post)

    assert service.answers() == 200
    assert service.stop() == 0
