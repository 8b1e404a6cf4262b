"""PostgreSQL goes away mid-crawl and comes back, under a running `schoolwacht run`.

The database is a throw-away cluster of this test (`pg_cluster`), stopped with
`pg_ctl stop -m fast` while the service's crawl is storing posts, kept down for longer than
the scheduler's lease heartbeat, and started again while the crawl still runs. The service
process must stay up, its dashboard must answer again and its scheduler go on running jobs;
the crawl must outlive the outage (its pooled connection is dead: `pool_pre_ping`, and the
batch that failed is kept and stored later) and store every post exactly once. A crawl
started while the database is down must fail cleanly; the one after the outage adds nothing.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.faults.helpers import (
    PgCluster,
    Service,
    assert_posts_once,
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

TOTAL = 1200  # 30 pages of 40, half a second each (15 s in all); 800 statuses name the school
OUTAGE_SECONDS = 5  # longer than the scheduler's lease heartbeat (lease_seconds 10 / 3)


def test_database_restart_mid_crawl_loses_nothing_and_the_service_recovers(
        tmp_path: Path, pg_cluster: PgCluster, mockserver: str, smtp_server: Any,
        services: Callable[..., Service]) -> None:
    env = Env(tmp_path, tmp_path / "schoolwacht.toml", pg_cluster.create_database("sw"), {})
    token = f"p{uuid.uuid4().hex[:12]}"
    env.write([local_source(mockserver, token, name="m")], **mail_sections(smtp_server.port))
    switch_fault(mockserver, token, "slow:0.5", total=TOTAL)
    service = services(env)
    service.wait_answering(60)

    wait_for(lambda: crawl_children(env, "m"), 60, "the service's crawl subprocess")
    wait_for(lambda: sum(post_counts(env).values()) > 0, 60, "the first stored batch (200 posts)")
    pg_cluster.ctl("stop", "-m", "fast")
    down_at, down_since = len(service.output()), time.monotonic()
    # A crawl started now fails cleanly: its own exit code and a clear message, no traceback.
    during = env.crawl("m")
    assert during.returncode == 3, during.stderr[-3000:]
    assert during.stderr.strip().splitlines()[-1].startswith("error: database niet bereikbaar: "), during.stderr
    assert "Traceback" not in during.stderr
    assert service.answers() != 200  # the outage is real: the dashboard cannot read the database
    time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_since)))
    assert crawl_children(env, "m"), "the service's crawl ended during the outage: make it longer"
    pg_cluster.ctl("start")

    assert service.alive(), service.output()[-3000:]
    service.wait_answering(30)
    ended = re.compile(r"crawl:m(: exit -?\d+.*| failed: .*)")
    outcome = wait_for(lambda: ended.search(service.output()[down_at:]), 90, "the crawl job to end").group(0)
    assert outcome == f"crawl:m: exit 0: m: {len(tag_statuses(TOTAL))} new posts", outcome
    assert_posts_once(env, tag_statuses(TOTAL))
    source = source_row(env, "m")
    assert source.last_error is None
    assert source.state == newest_cursor(TOTAL)
    # The scheduler goes on: a job runs (and succeeds) after the database came back.
    wait_for(lambda: "classify: classified" in service.output()[down_at:], 60, "a classify run after the restart")
    assert service.alive(), service.output()[-3000:]

    switch_fault(mockserver, token, "ok")
    result = env.crawl("m")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "m: 0 new posts"
    assert_posts_once(env, tag_statuses(TOTAL))
    assert source_row(env, "m").state == newest_cursor(TOTAL)
    assert service.answers() == 200
    assert service.stop() == 0, service.output()[-3000:]
