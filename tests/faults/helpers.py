"""Fault suite helpers: real services to break, and the invariants every fault test asserts.

- `PUBLIC_HOST` / `public_source()`: a source that is *not* `allow_private`, configured on a
  public address. Its traffic goes through the fake server acting as the HTTP forward proxy
  (`http_proxy`, which Scrapy honours like a school's own proxy), so nothing leaves the
  machine, while the SSRF guard judges the configured host and every redirect target exactly
  as in production: no resolver override, no setting that weakens it. The tests whose point is
  not the guard use `local_source()` instead: the same fake platform on 127.0.0.1, trusted
  with `allow_private` like every other crawler test.
- `Service`: a real `schoolwacht run` process (scheduler + dashboard) with a logged-in probe
  of its dashboard (started by the `services` fixture in conftest).
- `PgCluster`: a throw-away PostgreSQL cluster (`initdb` + `pg_ctl`) on a free port, for
  the restart test (the `pg_cluster` fixture); the shared server on 5432 is never touched.
- `assert_posts_once`, `assert_alerts_sent_once`: the invariants, as database queries.

What a fault test needs but cannot find (PostgreSQL binaries, the `postgres` account when
running as root) skips it locally and fails it in CI.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlencode

import httpx
import psycopg
import pytest
from sqlalchemy import func, select

from alerts.outbox import message_id
from store.models import Outbox, Post, Source
from tests.helpers.fixtures import ROOT, Env
from tests.helpers.smtp import SmtpServer, free_port
from tests.helpers.web import PASSWORD

# A globally routable address (example.com's, run by IANA for examples): the SSRF guard lets it
# through as public; the crawl reaches it only through the local proxy (see the module doc).
PUBLIC_HOST = "93.184.215.14"
MASTODON_BASE_ID = 109_000_000_000_000_000
DIRECTOR = "directeur@school.example"
SENDER = "schoolwacht@school.example"


def missing(reason: str) -> NoReturn:
    """A prerequisite is missing: fail in CI (`CI` set), skip elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def wait_for(condition: Callable[[], Any], timeout: float, what: str, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


# -- the public-looking source behind the proxy ---------------------------------------------------
def proxy_env(mockserver: str) -> dict[str, str]:
    """Environment for a crawl whose HTTP goes through the fake server as forward proxy."""
    return {"http_proxy": mockserver, "HTTP_PROXY": mockserver, "no_proxy": "", "NO_PROXY": ""}


def public_source(token: str, name: str = "bron", **extra: Any) -> dict[str, Any]:
    """A Mastodon source on PUBLIC_HOST (not allow_private), served by the `faulty` platform
    through the proxy (give the env `proxy_env`)."""
    return {"name": name, "kind": "mastodon", "base_url": f"http://{PUBLIC_HOST}/faulty/{token}",
            "hashtags": ["verkruisen"], "allow_private": False, **extra}


def local_source(mockserver: str, token: str, name: str = "bron", **extra: Any) -> dict[str, Any]:
    """The same source on the fake server's own address (allow_private), without a proxy."""
    return {"name": name, "kind": "mastodon", "base_url": f"{mockserver}/faulty/{token}",
            "hashtags": ["verkruisen"], "allow_private": True, **extra}


def switch_fault(mockserver: str, token: str, mode: str, *, from_page: int = 1, total: int | None = None) -> None:
    query: dict[str, Any] = {"mode": mode, "from_page": from_page}
    if total is not None:
        query["total"] = total
    with urllib.request.urlopen(f"{mockserver}/faulty/{token}/_fault?{urlencode(query)}", timeout=10) as reply:
        assert reply.status == 200


def tag_statuses(total: int) -> set[str]:
    """External ids of the statuses of the fake tag timeline that name the school (TEXTS)."""
    return {f"https://school.social/users/ouder7/statuses/{MASTODON_BASE_ID + i}"
            for i in range(1, total + 1) if i % 3 != 1}


def newest_cursor(total: int) -> dict[str, str]:
    return {"tag:verkruisen": str(MASTODON_BASE_ID + total)}


# -- invariants ---------------------------------------------------------------------------------
def source_row(env: Env, name: str) -> Source:
    with env.session() as session:
        return session.execute(select(Source).where(Source.name == name)).scalar_one()


def post_counts(env: Env, source: str | None = None) -> Counter[str]:
    """Stored rows per external id (GROUP BY platform, external_id)."""
    with env.session() as session:
        statement = select(Post.platform, Post.external_id, func.count()).group_by(Post.platform, Post.external_id)
        if source is not None:
            statement = statement.join(Source, Source.id == Post.source_id).where(Source.name == source)
        return Counter({external_id: int(n) for _platform, external_id, n in session.execute(statement)})


def assert_posts_once(env: Env, expected: set[str], source: str | None = None) -> None:
    """0 duplicates and 0 lost: every expected post is stored exactly once, nothing else."""
    counts = post_counts(env, source)
    duplicated = {k: n for k, n in counts.items() if n != 1}
    assert not duplicated, f"posts stored more than once: {duplicated}"
    lost = expected - set(counts)
    assert not lost, f"{len(lost)} posts lost, e.g. {sorted(lost)[:3]}"
    extra = set(counts) - expected
    assert not extra, f"unexpected posts: {sorted(extra)[:3]}"


def outbox_rows(env: Env, kind: str | None = None) -> list[Outbox]:
    with env.session() as session:
        statement = select(Outbox).order_by(Outbox.id)
        if kind is not None:
            statement = statement.where(Outbox.kind == kind)
        return list(session.execute(statement).scalars())


def outbox_key_counts(env: Env) -> Counter[str]:
    with env.session() as session:
        rows = session.execute(select(Outbox.dedup_key, func.count()).group_by(Outbox.dedup_key))
        return Counter({key: int(n) for key, n in rows})


def assert_alerts_sent_once(env: Env, smtp: SmtpServer, expected_alerts: int) -> None:
    """One outbox row per dedup key, each sent, and exactly one message per row at the server."""
    keys = outbox_key_counts(env)
    assert all(n == 1 for n in keys.values()), f"outbox rows per dedup key: {keys}"
    alerts = outbox_rows(env, "alert")
    assert len(alerts) == expected_alerts, [r.dedup_key for r in alerts]
    assert all(r.sent_at is not None and r.failed_at is None for r in alerts), \
        [(r.dedup_key, r.attempts, r.last_error) for r in alerts if r.sent_at is None]
    received = Counter(m["Message-ID"] for m in smtp.messages)
    wanted = {message_id(r.dedup_key, SENDER): r.dedup_key for r in alerts}
    per_alert = {key: received.get(mid, 0) for mid, key in wanted.items()}
    assert all(n == 1 for n in per_alert.values()), f"messages received per alert: {per_alert}"
    assert set(received) == set(wanted), "mail that no outbox row accounts for"


def mail_sections(smtp_port: int, **schedule: Any) -> dict[str, Any]:
    """Config sections for a service that mails the director through `smtp_port` quickly."""
    return {
        "mail": {"host": "127.0.0.1", "port": smtp_port, "sender": SENDER, "director": [DIRECTOR],
                 "timeout_seconds": 5},
        "alerts": {"retry_base_seconds": 1, "retry_max_seconds": 2},
        "schedule": {"classify_every_seconds": 5, "outbox_every_seconds": 5, "lease_seconds": 10, **schedule},
        # No browser in the fault suite: evidence is rendered from the stored post instead.
        "evidence": {"screenshots": False},
    }


# -- the service ----------------------------------------------------------------------------------
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Service:
    """One `schoolwacht run` process on `env`, its log in the env's directory."""

    env: Env
    name: str = "service"
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[str] | None = None
    _client: httpx.Client | None = None

    @property
    def log(self) -> Path:
        return self.env.path / f"{self.name}.log"

    def start(self) -> Service:
        with open(self.log, "a", encoding="utf-8") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "schoolwacht.cli", "--config", str(self.env.config_file), "run",
                 "--port", str(self.port)],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, text=True,
                env={**os.environ, **self.env.extra_env})
        return self

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8") if self.log.exists() else ""

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def answers(self) -> int | str:
        """Status of the overview page for a logged-in director (a page that reads the database),
        or the error; logs in first when needed."""
        try:
            if self._client is None:
                client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=10)
                page = client.get("/login")
                match = _CSRF.search(page.text)
                if page.status_code != 200 or match is None:
                    client.close()
                    return page.status_code
                done = client.post("/login", data={"email": DIRECTOR, "password": PASSWORD, "next": "/",
                                                   "csrf_token": match.group(1)}, follow_redirects=False)
                if done.status_code != 303:
                    client.close()
                    return done.status_code
                self._client = client
            return self._client.get("/").status_code
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"

    def wait_answering(self, timeout: float = 60) -> None:
        wait_for(lambda: self.answers() == 200, timeout, f"{self.name}'s dashboard to answer")

    def signal(self, signum: int) -> int:
        assert self.process is not None
        self.process.send_signal(signum)
        return self.process.wait(timeout=60)

    def stop(self) -> int:
        """SIGTERM (a clean stop must exit 0); idempotent."""
        if self._client is not None:
            self._client.close()
            self._client = None
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            raise


def crawl_children(env: Env, source: str) -> list[int]:
    """Pids of running crawl subprocesses of `source` on this env's config."""
    result = subprocess.run(["pgrep", "-f", f"crawlers.run {source} --config {env.config_file}"],
                            capture_output=True, text=True, check=False)
    return [int(pid) for pid in result.stdout.split()]


def cli(env: Env, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "schoolwacht.cli", "--config", str(env.config_file), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **env.extra_env})


# -- a throw-away PostgreSQL cluster --------------------------------------------------------------
def pg_bin() -> Path | None:
    found = [p for p in Path("/usr/lib/postgresql").glob("*/bin")
             if (p / "initdb").exists() and (p / "pg_ctl").exists()]
    found.sort(key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    return found[-1] if found else None


@dataclass
class PgCluster:
    bin: Path
    data: Path
    port: int
    run_as: list[str]

    def _run(self, *command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([*self.run_as, *command], capture_output=True, text=True, timeout=timeout,
                                check=False)
        assert result.returncode == 0, f"{command[0]} failed: {result.stdout[-2000:]}{result.stderr[-2000:]}"
        return result

    def ctl(self, *args: str) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
                   "-c fsync=off -c full_page_writes=off")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.data.parent / "server.log"),
                  "-w", "-t", "60", "-o", options, *args)

    def dsn(self, dbname: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname}"

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.dsn(), autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"
