"""Two `schoolwacht run` processes on one database; the leader is killed with SIGKILL.

tests/test_scheduler.py stops the leader with SIGTERM, which releases its lease. A SIGKILL
releases nothing: the stand-by must wait for the lease to expire and then take over. Both
dashboards answer throughout; the feed is crawled once, every post is stored once and every
alert goes out exactly once, including the alert for a report that arrives after the
take-over; a third process started later stands by.
"""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Callable
from typing import Any

from tests.faults.helpers import (
    MASTODON_BASE_ID,
    Service,
    assert_alerts_sent_once,
    assert_posts_once,
    cli,
    mail_sections,
    post_counts,
    wait_for,
)
from tests.helpers.fixtures import SCHOOL, Env
from tests.helpers.smtp import SmtpServer

FEED = 3  # threats scenario: a threat, an insult and a harmless post
LEASE_SECONDS = 10


def _outbox_round(service: Service) -> None:
    """Wait until the service has run its outbox job once more from now."""
    since = len(service.output())
    wait_for(lambda: "outbox: sent" in service.output()[since:], 30, f"an outbox round of {service.name}")


def test_standby_takes_over_from_a_killed_leader_without_double_work(
        env: Env, mockserver: str, smtp_server: SmtpServer, services: Callable[..., Service]) -> None:
    scenario = f"threats-n{FEED}-two{uuid.uuid4().hex[:8]}"
    source: dict[str, Any] = {"name": "mast", "kind": "mastodon", "base_url": f"{mockserver}/mastodon/{scenario}",
                              "hashtags": ["verkruisen"]}
    env.write([source], **mail_sections(smtp_server.port, lease_seconds=LEASE_SECONDS))

    leader = services(env, "leader")
    wait_for(lambda: "scheduler running" in leader.output(), 60, "the leader")
    standby = services(env, "standby")
    wait_for(lambda: "standing by" in standby.output(), 60, "the stand-by")
    leader.wait_answering(30)
    standby.wait_answering(30)

    wait_for(lambda: len(smtp_server.messages) >= 2, 120, "the threat's and the insult's alerts")
    _outbox_round(leader)
    assert len(smtp_server.messages) == 2

    killed_at = time.monotonic()
    assert leader.signal(signal.SIGKILL) == -signal.SIGKILL
    assert standby.answers() == 200  # the stand-by's dashboard does not depend on the leader
    wait_for(lambda: "scheduler running" in standby.output(), 3 * LEASE_SECONDS, "the take-over")
    # Not before the dead leader's lease ran out (nobody released it; it was renewed at most
    # one heartbeat, a third of the lease, before the kill), and not much after.
    assert LEASE_SECONDS * 2 / 3 - 1 <= time.monotonic() - killed_at <= 2 * LEASE_SECONDS + 5

    report = cli(env, "report", "--school", SCHOOL["name"], "--platform", "whatsapp", "--text",
                 "Ik wacht die meester van BM Verkruisen morgen op met een mes, dan is hij er geweest.")
    assert report.returncode == 0, report.stderr
    wait_for(lambda: len(smtp_server.messages) >= 3, 90, "the alert for the report, sent by the new leader")
    _outbox_round(standby)

    late = services(env, "late")
    wait_for(lambda: "standing by" in late.output(), 60, "a third process to stand by")
    late.wait_answering(30)
    standby.wait_answering(30)
    assert standby.stop() == 0, standby.output()[-3000:]
    assert late.stop() == 0, late.output()[-3000:]

    logs = leader.output() + standby.output() + late.output()
    assert logs.count("crawl:mast: exit") == 1, "the feed was crawled by more than one process"
    assert "scheduler running" not in late.output()
    feed = {f"https://school.social/users/ouder7/statuses/{MASTODON_BASE_ID + i}" for i in range(1, FEED + 1)}
    assert_posts_once(env, feed, "mast")
    everything = post_counts(env)
    assert len(everything) == FEED + 1 and set(everything.values()) == {1}  # and the report, once
    assert_alerts_sent_once(env, smtp_server, 3)
