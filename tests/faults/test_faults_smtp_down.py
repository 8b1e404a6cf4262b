"""The mail server is down for a whole run of the service, then up for the next one.

tests/test_scheduler.py brings the server back while one service runs. Here it stays down
for the length of a `schoolwacht run`: every alert must wait in the outbox (one row per
alert and recipient, none lost, none given up), `schoolwacht alerts status` must show them
pending with the reason; with the server up, the next run and a manual `alerts flush` at the
same time must deliver each alert exactly once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.faults.helpers import (
    DIRECTOR,
    MASTODON_BASE_ID,
    Service,
    assert_alerts_sent_once,
    assert_posts_once,
    cli,
    mail_sections,
    outbox_key_counts,
    outbox_rows,
    wait_for,
)
from tests.helpers.fixtures import Env
from tests.helpers.smtp import SmtpServer

DEPUTY = "adjunct@school.example"
FEED = 6  # threats scenario: two threats, two insults, two harmless posts
ALERTS = 4 * 2  # four alarming posts, two recipients
FEED_POSTS = {f"https://school.social/users/ouder7/statuses/{MASTODON_BASE_ID + i}" for i in range(1, FEED + 1)}


def test_alerts_wait_out_a_mail_server_outage_and_go_out_once(
        env: Env, mockserver: str, smtp_server: SmtpServer, services: Callable[..., Service]) -> None:
    sections: dict[str, Any] = mail_sections(smtp_server.port)
    sections["mail"]["director"] = [DIRECTOR, DEPUTY]
    source = {"name": "mast", "kind": "mastodon", "base_url": f"{mockserver}/mastodon/threats-n{FEED}-smtpdown",
              "hashtags": ["verkruisen"]}
    env.write([source], **sections)
    smtp_server.stop()

    first = services(env, "run-1")
    wait_for(lambda: len(outbox_rows(env, "alert")) == ALERTS and all(r.attempts >= 1 for r in outbox_rows(env)),
             180, "every alert queued and tried")
    first.wait_answering(30)
    assert first.stop() == 0, first.output()[-3000:]

    assert smtp_server.messages == []
    rows = outbox_rows(env, "alert")
    assert all(r.sent_at is None and r.failed_at is None for r in rows)  # waiting, not given up
    assert all(n == 1 for n in outbox_key_counts(env).values())
    assert {r.recipient for r in rows} == {DIRECTOR, DEPUTY}
    assert len({r.post_id for r in rows}) == ALERTS // 2
    assert_posts_once(env, FEED_POSTS)
    status = cli(env, "alerts", "status", "--json")
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert (data["pending"], data["sent"], data["failed"]) == (ALERTS, 0, 0), data
    assert f"127.0.0.1:{smtp_server.port} weigert de verbinding" in data["last_error"], data
    text = cli(env, "alerts", "status")
    assert text.stdout.startswith(f"in de wachtrij: {ALERTS} (oudste van "), text.stdout

    smtp_server.start()
    second = services(env, "run-2")
    flushed = cli(env, "alerts", "flush")  # at the same time as the service's outbox job
    assert flushed.returncode == 0, flushed.stderr
    wait_for(lambda: len(smtp_server.messages) >= ALERTS, 60, "the alerts after the server is back")
    delivered_at = len(second.output())
    wait_for(lambda: "outbox: sent 0, retry 0, failed 0" in second.output()[delivered_at:], 30,
             "another outbox round, which finds nothing left to send")
    assert second.stop() == 0, second.output()[-3000:]

    assert_alerts_sent_once(env, smtp_server, ALERTS)
    assert sorted(r for m in smtp_server.envelopes for r in m.rcpt_tos) == sorted([DIRECTOR, DEPUTY] * (ALERTS // 2))
    status = cli(env, "alerts", "status", "--json")
    data = json.loads(status.stdout)
    assert (data["pending"], data["sent"], data["failed"]) == (0, ALERTS, 0), data
    assert_posts_once(env, FEED_POSTS)
