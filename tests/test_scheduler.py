"""The scheduler: job table, persistence across restarts, one runner per database, SIGTERM.

The service runs as a real `schoolwacht run` process; posts come from the fake Mastodon on
127.0.0.1 and mail goes to a real SMTP server (aiosmtpd).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlmodel import func, select

from alerts.mailcatcher import free_port
from scheduler import JOB_TABLE, job_specs, stop_scheduler, sync_jobs
from store.db import make_engine
from store.models import Outbox, Post
from store.types import utcnow
from tests.helpers.fixtures import ROOT, Env

THREAT_FEED = 3  # posts in the threat scenario: one threat, one insult, one harmless


def _source(mockserver: str, scenario: str, **extra: Any) -> dict[str, Any]:
    return {"name": "mast", "kind": "mastodon", "base_url": f"{mockserver}/mastodon/{scenario}",
            "hashtags": ["verkruisen"], "interval_minutes": 60, **extra}


def _sections(smtp_port: int, **schedule: Any) -> dict[str, Any]:
    return {
        "mail": {"host": "127.0.0.1", "port": smtp_port, "director": ["directeur@school.example"],
                 "timeout_seconds": 5},
        "schedule": {"classify_every_seconds": 5, "outbox_every_seconds": 5, "lease_seconds": 10, **schedule},
        "dashboard": {"port": free_port()},
    }


def _hits(mockserver: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{mockserver}/_stats/x") as response:
        hits: dict[str, int] = json.load(response)
    return hits


@contextmanager
def service(env: Env) -> Iterator[subprocess.Popen[str]]:
    """`schoolwacht run` on the env's config; stopped with SIGTERM, which must exit 0."""
    log = open(env.path / f"run-{time.monotonic_ns()}.log", "w+", encoding="utf-8")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "schoolwacht.cli", "--config", str(env.config_file), "run", "--port", str(free_port())],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, text=True, env={**os.environ, **env.extra_env})
    process.log = log  # type: ignore[attr-defined]
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        log.seek(0)
        process.output = log.read()  # type: ignore[attr-defined]
        log.close()


def output(process: subprocess.Popen[str]) -> str:
    log = process.log  # type: ignore[attr-defined]
    log.flush()
    return Path(log.name).read_text(encoding="utf-8")


def wait_for(condition: Callable[[], Any], timeout: float = 60, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _count(env: Env, model: Any, *where: Any) -> int:
    with env.session() as session:
        return int(session.exec(select(func.count()).select_from(model).where(*where)).one())


# -- the job table ------------------------------------------------------------------------------
def test_job_specs_follow_the_config(env: Env, mockserver: str) -> None:
    settings = env.write([_source(mockserver, "a"), {**_source(mockserver, "b"), "name": "off", "enabled": False},
                          {"name": "hand", "kind": "manual"}])
    specs = {spec.id: spec for spec in job_specs(settings)}
    assert set(specs) == {"crawl:mast", "classify", "outbox", "digest", "recheck", "evidence", "retention"}
    digest = specs["digest"].trigger
    assert "day_of_week='mon'" in str(digest) and "hour='7'" in str(digest) and "minute='30'" in str(digest)
    assert str(digest.timezone) == "Europe/Amsterdam"
    settings = env.write([_source(mockserver, "a")], schedule={"digest_day": "fri", "digest_time": "16:15"})
    digest = {s.id: s for s in job_specs(settings)}["digest"].trigger
    assert "day_of_week='fri'" in str(digest) and "hour='16'" in str(digest) and "minute='15'" in str(digest)


def test_a_restart_keeps_a_missed_digest_due(env_any_db: Env, mockserver: str) -> None:
    settings = env_any_db.write([_source(mockserver, "a")])
    engine = make_engine(settings.database.url)

    def scheduler() -> BackgroundScheduler:
        s = BackgroundScheduler(jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOB_TABLE)})
        s.start(paused=True)
        return s

    first = scheduler()
    sync_jobs(first, job_specs(settings))
    missed = utcnow() - timedelta(hours=2)
    first.modify_job("digest", next_run_time=missed)
    stop_scheduler(first)
    second = scheduler()
    sync_jobs(second, job_specs(settings))  # same config: the stored run time stays
    assert second.get_job("digest").next_run_time == missed
    changed = settings.model_copy(update={"schedule": settings.schedule.model_copy(update={"digest_day": "tue"})})
    sync_jobs(second, job_specs(changed))  # a changed schedule is applied
    assert second.get_job("digest").next_run_time > utcnow()
    stop_scheduler(second)
    engine.dispose()


# -- the running service ------------------------------------------------------------------------
def test_service_crawls_classifies_alerts_once_and_survives_restarts(
        env: Env, mockserver: str, smtp_server: Any) -> None:
    scenario = f"threats-n{THREAT_FEED}-sched"
    env.write([_source(mockserver, scenario)], **_sections(smtp_server.port))
    with service(env) as process:
        # The threat and the insult each alert the director once.
        wait_for(lambda: len(smtp_server.messages) >= 2, 120, "two alert mails")
        time.sleep(6)  # another outbox round: nothing more
        assert len(smtp_server.messages) == 2
    assert process.returncode == 0, process.output  # type: ignore[attr-defined]
    subjects = sorted(m["Subject"] for m in smtp_server.messages)
    assert any("URGENT" in s.upper() for s in subjects)
    posts = _count(env, Post)
    assert posts == THREAT_FEED
    fetched = _hits(mockserver)[f"count:mastodon/{scenario}"]

    # A restart: the crawl is not due for an hour, nothing is fetched, stored or sent again.
    with service(env):
        time.sleep(12)
    assert _hits(mockserver)[f"count:mastodon/{scenario}"] == fetched
    assert _count(env, Post) == posts
    assert len(smtp_server.messages) == 2
    assert _count(env, Outbox, Outbox.sent_at.is_not(None)) == 2


def test_mail_server_down_then_up_delivers_every_alert_once(env: Env, mockserver: str, smtp_server: Any) -> None:
    scenario = f"threats-n{THREAT_FEED}-down"
    env.write([_source(mockserver, scenario)], **_sections(smtp_server.port),
              alerts={"retry_base_seconds": 1, "retry_max_seconds": 2})
    smtp_server.stop()
    with service(env):
        wait_for(lambda: _count(env, Outbox, Outbox.attempts > 0) >= 2, 90, "failed send attempts")
        assert smtp_server.messages == []
        smtp_server.start()
        wait_for(lambda: len(smtp_server.messages) >= 2, 60, "alerts after the server is back")
        time.sleep(6)
    assert len(smtp_server.messages) == 2
    assert len({m["Message-ID"] for m in smtp_server.messages}) == 2


def test_a_missed_digest_is_sent_once_after_a_restart(env: Env, mockserver: str, smtp_server: Any) -> None:
    settings = env.write([_source(mockserver, "n1-digest")], **_sections(smtp_server.port))
    with service(env) as process:
        wait_for(lambda: "scheduler running" in output(process), 60, "the scheduler")
    # While the service was down, Monday 07:30 passed.
    engine = make_engine(settings.database.url)
    stopped = BackgroundScheduler(jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOB_TABLE)})
    stopped.start(paused=True)
    stopped.modify_job("digest", next_run_time=utcnow() - timedelta(hours=3))
    stop_scheduler(stopped)
    engine.dispose()
    with service(env):
        wait_for(lambda: any("eekoverzicht" in (m["Subject"] or "") for m in smtp_server.messages), 60,
                 "the digest")
        time.sleep(3)
    with service(env):
        time.sleep(8)
    digests = [m for m in smtp_server.messages if "eekoverzicht" in (m["Subject"] or "")]
    assert len(digests) == 1


def test_two_services_on_one_database_run_each_job_once(env_any_db: Env, mockserver: str,
                                                        smtp_server: Any) -> None:
    scenario = f"threats-n{THREAT_FEED}-two"
    env_any_db.write([_source(mockserver, scenario)], **_sections(smtp_server.port))
    with service(env_any_db) as first:
        wait_for(lambda: "scheduler running" in output(first), 60, "the first scheduler")
        with service(env_any_db) as second:
            wait_for(lambda: "standing by" in output(second), 60, "the standby")
            wait_for(lambda: len(smtp_server.messages) >= 2, 120, "alerts")
            time.sleep(6)
            # The leader stops: the standby takes over within the lease time.
            first.send_signal(signal.SIGTERM)
            first.wait(timeout=60)
            wait_for(lambda: "scheduler running" in output(second), 60, "the take-over")
            time.sleep(6)
    logs = first.output + second.output  # type: ignore[attr-defined]
    assert logs.count("crawl:mast: exit") == 1  # one crawl in all, not one per process
    assert _count(env_any_db, Post) == THREAT_FEED
    assert len(smtp_server.messages) == 2


def test_sigterm_stops_a_hanging_crawl_and_the_service(env: Env, mockserver: str, smtp_server: Any) -> None:
    env.write([_source(mockserver, "stall")], **_sections(smtp_server.port),
              crawl={"process_timeout_seconds": 600, "timeout_seconds": 600})
    child = ["pgrep", "-f", f"crawlers.run mast --config {env.config_file}"]

    def crawl_running() -> bool:
        return bool(subprocess.run(child, capture_output=True, text=True, check=False).stdout.strip())

    with service(env) as process:
        wait_for(lambda: "scheduler running" in output(process), 60, "the scheduler")
        wait_for(crawl_running, 60, "the hanging crawl")
        time.sleep(2)  # the child is in its request now
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        assert time.monotonic() - started < 30
    assert process.returncode == 0
    assert not crawl_running()


@pytest.mark.parametrize("field", ["digest_time", "recheck_time"])
def test_bad_schedule_times_are_a_clear_config_error(env: Env, field: str) -> None:
    env.config_file.write_text(
        f'[[schools]]\nname = "x"\n[schedule]\n{field} = "25:00"\n', encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "schoolwacht.cli", "--config", str(env.config_file), "sources"],
                            cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode != 0 and f"schedule.{field}" in result.stderr
