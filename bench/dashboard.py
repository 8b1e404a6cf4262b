"""Dashboard benchmark: 100,000 posts and 5,000 cases, 20 logged-in clients on 127.0.0.1.

    python -m bench.dashboard [--posts 100000] [--cases 5000] [--clients 20] [--seconds 20]
                              [--database-url URL] [--pages overview,review,case] [--workers 2]
                              [--json] [--keep DIR]

Seeds a fresh database (SQLite in a temp dir, or `--database-url` pointing at an EMPTY
PostgreSQL database) through the migrations and SQLAlchemy core bulk inserts: posts of the last
12 weeks on three sources with their raw captures and classifications (about 15 % flagged), the
cases those flagged posts belong to (every workflow status, with their timelines, assignments and
review verdicts), and seven accounts. Then it starts the dashboard exactly as production does
(`schoolwacht serve` with `[dashboard] workers = --workers`, default 2: one uvicorn worker
process per core of the development machine; in a child process so that its memory and CPU are
its own, summed over its processes), logs in `--clients` clients through the real login form
(each with a connection and session cookie of its own; pages are fetched with aiohttp, the lighter
client, or with `--client httpx`), and for `--seconds` per page keeps all of them busy on one page
at a time:

- overview `/` (weekly counts, 12-week chart, open cases by status, overdue steps, sources),
- review queue `/review` (page 1 of the flagged posts nobody has judged yet),
- a case page `/cases/{id}` (a random case id per request; every view is an audit entry,
  i.e. a write: the hash-chained log is appended under the database's write lock).

Measured per page: requests, errors (anything but 200), latency p50/p95/p99 and the mean,
requests/s; the server's CPU time per request and the load generator's own (both share the machine);
and the server's peak RSS (VmHWM, summed over its processes) and CPU seconds. Target: p95 < 100 ms on every
page. Exit status 0 when every page met it without errors, 1 otherwise. Client and server share
the machine (2 cores on the development machine): figures are what one school's server sees
under a far heavier load than its few users make. Not a test: pytest never runs it.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # also runnable as `python bench/dashboard.py`
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import httpx  # noqa: E402
import tomli_w  # noqa: E402
from sqlalchemy import Table, func, insert, select, text  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from classifier.labels import ARTICLES, CATEGORIES, COMPLAINT_OFFENCES, SEVERITIES, severity_for  # noqa: E402
from store.cases import complaint_deadline  # noqa: E402
from store.config import load_settings  # noqa: E402
from store.db import make_engine, session_scope  # noqa: E402
from store.files import store_blob  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from store.models import (  # noqa: E402
    Capture,
    Case,
    CaseEvent,
    CasePost,
    Classification,
    Feedback,
    Post,
    School,
    Source,
    User,
)
from store.sources import sync_config  # noqa: E402
from store.types import utcnow  # noqa: E402
from store.users import set_user  # noqa: E402
from store.workflow import FLOW  # noqa: E402

TARGET_P95_MS = 100.0
PASSWORD = "bench-password-lang-genoeg"
SCHOOL = {"name": "obs BM Verkruisen", "aliases": ["BM Verkruisen", "Verkruisen", "fusieschool Muntendam"]}
SOURCES = [
    {"name": "mastodon-verkruisen", "kind": "mastodon", "base_url": "https://mastodon.example",
     "hashtags": ["verkruisen"]},
    {"name": "nieuws-oost-groningen", "kind": "rss", "url": "https://nieuws.example/feed.xml"},
    {"name": "reddit-groningen", "kind": "reddit", "base_url": "https://reddit.example", "subreddits": ["groningen"]},
]
PLATFORM_OF = {"mastodon": "mastodon", "rss": "rss", "reddit": "reddit"}
STAFF = [f"leerkracht{i}@school.example" for i in range(1, 6)]
PAGES = {"overview": "/", "review": "/review", "case": "/cases/{id}", "cases": "/cases"}
DEFAULT_PAGES = ("overview", "review", "case")  # the three; `cases` (the list) on request
# The share of each status among the seeded cases (closed cases pile up over the weeks).
STATUS_MIX = {"new": 10, "triaged": 8, "addressed": 7, "removal_requested": 5, "removed": 5, "corrected": 3,
              "reported": 2, "closed": 45, "dismissed": 15}
BATCH = 5_000
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
# Logins whose first page after the redirect still found no session (see `_login`).
LOGIN_RACES: list[str] = []

WORDS = ("school", "juf", "meester", "directeur", "ouders", "kinderen", "plein", "fusie", "gebouw", "les",
         "groep", "rapport", "schoolreis", "ouderavond", "Muntendam", "gymzaal", "pauze", "bus", "toets", "feest")
NICE = ("Mooie musical van groep 8 op Verkruisen vanavond!", "Open dag bij BM Verkruisen zaterdag, kom kijken.",
        "De nieuwe fusieschool Muntendam krijgt een groen schoolplein.", "Bedankt juf voor het leuke jaar!")
NASTY = {
    "insult": "Die {who} van Verkruisen is een {bad} en hoort niet voor de klas.",
    "defamation": "De {who} van BM Verkruisen heeft geld van de ouderraad gestolen, iedereen weet het.",
    "threat": "Als ik die {who} van Verkruisen tegenkom, sla ik hem in elkaar.",
    "harassment": "Ik blijf die {who} van Verkruisen elke dag opwachten bij het hek tot ze weggaat.",
    "doxing": "De {who} van Verkruisen woont op de Dorpsstraat 12, ga maar eens langs.",
    "discrimination": "Op Verkruisen zitten alleen maar {group}, die horen hier niet.",
    "confidential": "Uitgelekt: de lijst met zorgleerlingen van Verkruisen, met namen.",
}
NEGATIVE = ("Wat een slecht georganiseerde ouderavond weer op Verkruisen.",
            "De communicatie van BM Verkruisen over de fusie is echt waardeloos.")


# -- seeding --------------------------------------------------------------------------------------
@dataclass
class Seeded:
    posts: int = 0
    flagged: int = 0
    cases: int = 0
    open_cases: int = 0
    events: int = 0
    queue: int = 0
    case_ids: list[int] = field(default_factory=list)
    seconds: float = 0.0


def _table(model: Any) -> Table:
    return model.__table__  # type: ignore[no-any-return]


def _bulk(engine: Engine, model: Any, rows: list[dict[str, Any]]) -> None:
    table = _table(model)
    with engine.begin() as conn:
        for start in range(0, len(rows), BATCH):
            conn.execute(insert(table), rows[start:start + BATCH])


def _fix_sequences(engine: Engine) -> None:
    """Explicit ids do not move PostgreSQL's sequences: move them past the seeded rows."""
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as conn:
        for model in (Post, Capture, Classification, Case, CaseEvent, Feedback):
            name = _table(model).name
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('\"{name}\"', 'id'), "
                              f"GREATEST((SELECT MAX(id) FROM \"{name}\"), 1))"))


def _post_text(rng: random.Random, categories: list[str], sentiment: str) -> str:
    filler = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 30)))
    if categories:
        lines = [NASTY[c].format(who=rng.choice(("juf", "meester", "directeur", "conciërge")),
                                 bad=rng.choice(("sukkel", "idioot", "heks", "nietsnut")),
                                 group=rng.choice(("buitenlanders", "moslims"))) for c in categories]
        return " ".join(lines) + " " + filler
    if sentiment == "negative":
        return rng.choice(NEGATIVE) + " " + filler
    return rng.choice(NICE) + " " + filler


def _labels(rng: random.Random, flagged_share: float) -> tuple[str, list[str]]:
    if rng.random() >= flagged_share:
        return rng.choice(("neutral", "neutral", "positive")), []
    roll = rng.random()
    if roll < 0.55:
        return "negative", []
    if roll < 0.65:
        return "negative", ["threat"]
    picked = sorted({rng.choice(CATEGORIES[:2] + CATEGORIES[3:]) for _ in range(rng.choice((1, 1, 2)))})
    return "negative", picked


def seed(settings_file: Path, *, posts: int, cases: int, seed_value: int = 5) -> Seeded:
    """Fill a fresh database; returns what was made (ids of the cases for the case pages)."""
    started = time.perf_counter()
    rng = random.Random(seed_value)
    settings = load_settings(settings_file, environ=dict(os.environ))
    engine = make_engine(settings.database.url)
    upgrade(engine)
    with session_scope(engine) as session:
        if session.execute(select(func.count()).select_from(Post)).scalar_one():
            raise SystemExit(f"{settings.database.url} already holds posts: give an empty database")
        sync_config(session, settings=settings)
        set_user(session, email="beheer@school.example", role="admin", password=PASSWORD, name="Beheer")
        set_user(session, email="directeur@school.example", role="director", password=PASSWORD, name="Directeur")
        for number, email in enumerate(STAFF, 1):
            set_user(session, email=email, role="staff", password=PASSWORD, name=f"Leerkracht {number}")
    with session_scope(engine) as session:
        school_id = session.execute(select(School.id)).scalar_one()
        sources = {s.name: (s.id, s.kind) for s in session.execute(select(Source)).scalars() if s.kind != "manual"}
        staff_ids = [u.id for u in session.execute(select(User).where(User.role == "staff")).scalars()]
        director_id = session.execute(select(User.id).where(User.role == "director")).scalar_one()
        # One source with a recent error, as the overview shows it.
        broken = session.execute(select(Source).where(Source.name == "reddit-groningen")).scalars().one()
        broken.last_error, broken.last_error_at = "HTTP 503 van reddit.example", utcnow() - timedelta(hours=3)
        broken.last_run_at = broken.last_error_at
        for source in session.execute(select(Source)).scalars():
            source.last_run_at = source.last_run_at or utcnow() - timedelta(minutes=20)
            source.last_success_at = source.last_run_at
    blob = store_blob(settings.storage.dir, b'{"bench": true}', media_type="application/json")

    now = utcnow()
    span = timedelta(weeks=12)
    # Flagged posts: about three per case (every flagged post belongs to a case, as in production).
    flagged_share = min(0.5, 3.0 * cases / posts)
    post_rows, capture_rows, class_rows = [], [], []
    flagged: list[tuple[int, str, list[str], datetime, str]] = []
    source_list = list(sources.items())
    for post_id in range(1, posts + 1):
        name, (source_id, kind) = source_list[post_id % len(source_list)]
        created = now - span * (rng.random() ** 1.3)  # more posts recently
        sentiment, categories = _labels(rng, flagged_share)
        severity = severity_for(sentiment, categories)
        body = _post_text(rng, categories, sentiment)
        author = f"account{rng.randint(1, 8000)}"
        platform = PLATFORM_OF[kind]
        post_rows.append({
            "id": post_id, "source_id": source_id, "school_id": school_id, "platform": platform,
            "external_id": f"{name}-{post_id}", "url": f"https://{platform}.example/{author}/{post_id}",
            "author_handle": author, "author_name": author.title(), "text": body, "language": "nl",
            "created_at": created, "fetched_at": created + timedelta(minutes=rng.randint(1, 60)),
            "content_sha256": hashlib.sha256(body.encode()).hexdigest(), "matched_phrase": "Verkruisen",
            "removed_at": None, "reported_by": None})
        capture_rows.append({"id": post_id, "post_id": post_id, "kind": "raw", "path": blob.path,
                             "sha256": blob.sha256, "size": blob.size, "media_type": "application/json",
                             "captured_at": created, "url": None})
        scores = {c: round(rng.random() * 0.3, 3) for c in CATEGORIES} | {c: 0.91 for c in categories}
        explanations = {c: [{"start": 0, "end": 12, "text": body[:12], "source": "model", "rule": None}]
                        for c in categories}
        class_rows.append({"id": post_id, "post_id": post_id, "model": "builtin", "version": "bench",
                           "language": "nl", "sentiment": sentiment, "sentiment_score": 0.8, "scores": scores,
                           "categories": categories, "explanations": explanations, "severity": severity,
                           "created_at": created + timedelta(minutes=61)})
        if severity != "none":
            flagged.append((post_id, severity, categories, created, author))
    _bulk(engine, Post, post_rows)
    _bulk(engine, Capture, capture_rows)
    _bulk(engine, Classification, class_rows)
    del post_rows, capture_rows, class_rows

    # Cases: the first `cases` flagged posts open one each, the others join a random case.
    flagged.sort(key=lambda f: f[3])
    opener_ids = sorted(rng.sample(range(len(flagged)), min(cases, len(flagged))))
    openers = [flagged[i] for i in opener_ids]
    chosen = set(opener_ids)
    members: dict[int, list[tuple[int, str, list[str], datetime, str]]] = {c: [f] for c, f in enumerate(openers, 1)}
    for index, item in enumerate(flagged):
        if index not in chosen:
            members[rng.randint(1, len(openers))].append(item)
    statuses, weights = zip(*STATUS_MIX.items(), strict=True)
    case_rows, link_rows, event_rows, feedback_rows = [], [], [], []
    event_id = feedback_id = 0
    result = Seeded(posts=posts, flagged=len(flagged))
    for case_id, items in members.items():
        status = rng.choices(statuses, weights)[0]
        first = min(i[3] for i in items)
        opened = first + timedelta(minutes=61)
        severity = max((i[1] for i in items), key=SEVERITIES.index)
        categories = sorted({c for i in items for c in i[2]})
        steps = list(FLOW[1:FLOW.index(status) + 1]) if status in FLOW else (
            ["triaged", status] if status in ("reported", "dismissed") else [])
        step_at = [min(now, opened + timedelta(hours=rng.randint(2, 60) * (n + 1))) for n in range(len(steps))]
        updated = step_at[-1] if step_at else opened
        done = status in ("closed", "dismissed")
        case_rows.append({
            "id": case_id, "school_id": school_id, "status": status, "severity": severity, "opened_at": opened,
            "updated_at": updated, "closed_at": updated if done else None, "learned_at": opened,
            "assignee_id": rng.choice(staff_ids) if rng.random() < 0.3 else None, "categories": categories,
            "articles": [ARTICLES[c] for c in categories],
            "deadline": complaint_deadline(opened, categories) if set(categories) & set(COMPLAINT_OFFENCES) else None,
            "thread_key": f"{school_id}:{items[0][4]}", "police_reference": f"PL0100-2026{case_id:06d}"
            if status == "reported" else None, "reported_at": updated if status == "reported" else None})
        for post_id, *_ in items:
            link_rows.append({"case_id": case_id, "post_id": post_id, "added_at": opened})
        event_id += 1
        event_rows.append({"id": event_id, "case_id": case_id, "at": opened, "actor_id": None, "actor": "systeem",
                           "action": "opened", "note": "Geopend door classificatie", "data": {"post_id": items[0][0]}})
        previous = "new"
        for step, at in zip(steps, step_at, strict=True):
            event_id += 1
            event_rows.append({"id": event_id, "case_id": case_id, "at": at, "actor_id": director_id,
                               "actor": "directeur@school.example", "action": "status",
                               "note": "Besproken en afgehandeld volgens regel 4." if rng.random() < 0.5 else "",
                               "data": {"from": previous, "to": step}})
            previous = step
        if status not in ("new", "triaged"):  # somebody judged these posts
            verdict = "dismissed" if status == "dismissed" else "confirmed"
            for post_id, *_ in items:
                feedback_id += 1
                feedback_rows.append({"id": feedback_id, "post_id": post_id, "classification_id": post_id,
                                      "user_id": director_id, "verdict": verdict, "sentiment": None,
                                      "categories": [], "note": "", "created_at": step_at[0]})
        else:
            result.queue += len(items)
        result.open_cases += not done
    _bulk(engine, Case, case_rows)
    _bulk(engine, CasePost, link_rows)
    _bulk(engine, CaseEvent, event_rows)
    _bulk(engine, Feedback, feedback_rows)
    _fix_sequences(engine)
    if engine.dialect.name == "sqlite":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    else:
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    engine.dispose()
    result.cases, result.events = len(case_rows), len(event_rows)
    result.case_ids = [row["id"] for row in case_rows]
    result.seconds = time.perf_counter() - started
    return result


# -- the server -----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_config(workdir: Path, database_url: str, port: int, workers: int = 1) -> Path:
    config = {
        "database": {"url": database_url},
        "storage": {"dir": str(workdir / "storage")},
        "dashboard": {"host": "127.0.0.1", "port": port, "workers": workers},
        "schools": [SCHOOL],
        "sources": [{"school": SCHOOL["name"], "interval_minutes": 30, **s} for s in SOURCES],
    }
    path = workdir / "schoolwacht.toml"
    path.write_text(tomli_w.dumps(config), encoding="utf-8")
    return path


def start_server(config: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    """`schoolwacht --config FILE serve`, as in production, in a child process."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", "from schoolwacht.cli import main; main()", "--config", str(config), "serve"],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the dashboard exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/login", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit("the dashboard did not answer within 60 s")


def _process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (uvicorn's worker processes when `workers` > 1)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        todo.extend(int(child) for child in children)
    return found


def proc_figures(pid: int) -> dict[str, float]:
    """Peak and current RSS (MB) and CPU seconds of a process and its children (Linux /proc);
    RSS figures are summed over the processes (an upper bound: shared pages count once each)."""
    figures: dict[str, float] = {"VmHWM": 0.0, "VmRSS": 0.0, "cpu_s": 0.0}
    for member in _process_tree(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text()
            stat = Path(f"/proc/{member}/stat").read_text()
        except OSError:  # gone in between
            continue
        for line in status.splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                figures[key] += int(value.split()[0]) / 1024
        fields = stat.rsplit(")", 1)[1].split()
        figures["cpu_s"] += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return figures


# -- the load -------------------------------------------------------------------------------------
@dataclass
class PageResult:
    page: str
    path: str
    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    server_cpu_s: float
    client_cpu_s: float  # the load generator's own CPU time (it shares the machine with the server)
    # One client alone (no queueing): what a single page view costs.
    solo_p50_ms: float = float("nan")
    solo_p95_ms: float = float("nan")
    error_examples: list[str] = field(default_factory=list)

    @property
    def cpu_ms_per_request(self) -> float:
        return 1000 * self.server_cpu_s / self.requests if self.requests else float("nan")

    @property
    def client_cpu_ms_per_request(self) -> float:
        return 1000 * self.client_cpu_s / self.requests if self.requests else float("nan")

    @property
    def ok(self) -> bool:
        return self.errors == 0 and self.requests > 0 and self.p95_ms < TARGET_P95_MS


def _percentile(ordered: list[float], share: float) -> float:
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))
    return ordered[index]


async def _login(client: httpx.AsyncClient, email: str) -> int:
    """Log in through the form; returns how often the new session was not yet valid right after
    the redirect (the login's transaction commits after its response was sent)."""
    page = await client.get("/login")
    token = _TOKEN.search(page.text)
    assert token, "no csrf token on /login"
    response = await client.post("/login", data={"email": email, "password": PASSWORD, "next": "/",
                                                 "csrf_token": token.group(1)})
    session = client.cookies.get("sw_session")
    if response.status_code != 303 or not session:
        raise SystemExit(f"login of {email} failed: HTTP {response.status_code}")
    for attempt in range(50):
        if (await client.get("/")).status_code == 200:
            return attempt
        # The refusal also deleted the cookie: put it back and try again once the commit is in.
        client.cookies.set("sw_session", session, domain="127.0.0.1")
        await asyncio.sleep(0.05)
    raise SystemExit(f"the session of {email} never became valid")


CLIENT_KINDS = ("aiohttp", "httpx")
# What a failed request may raise, whichever client made it.
REQUEST_ERRORS: tuple[type[BaseException], ...] = (httpx.HTTPError, aiohttp.ClientError, asyncio.TimeoutError)


class BenchClient:
    """One logged-in client with a connection of its own (HTTP/1.1 keep-alive, like a browser tab).

    It logs in through the real login form with httpx, then requests pages with `kind`: aiohttp
    (default) costs about a quarter of httpx's CPU per request (0.3 to 0.6 ms against 1.2 to 1.8 ms
    measured here), and on a two-core machine every millisecond the load generator spends is one
    the server under test does not get.
    """

    def __init__(self, base: str, kind: str = "aiohttp") -> None:
        if kind not in CLIENT_KINDS:
            raise ValueError(f"unknown client {kind!r}")
        self.base, self.kind = base, kind
        self.login_client = httpx.AsyncClient(base_url=base, timeout=30,
                                              limits=httpx.Limits(max_connections=1, max_keepalive_connections=1))
        self._session: aiohttp.ClientSession | None = None

    async def login(self, email: str) -> int:
        """Log in (see `_login`); returns how often the new session was not valid yet."""
        races = await _login(self.login_client, email)
        if self.kind == "aiohttp":
            self._session = aiohttp.ClientSession(
                base_url=self.base, connector=aiohttp.TCPConnector(limit=1), timeout=aiohttp.ClientTimeout(total=30),
                cookies={"sw_session": self.login_client.cookies["sw_session"]})
            await self.login_client.aclose()  # no idle second connection per client on the server
        return races

    async def get(self, path: str) -> int:
        """GET `path` and read the whole body; the HTTP status."""
        if self._session is None:
            return (await self.login_client.get(path)).status_code
        async with self._session.get(path, allow_redirects=False) as response:
            await response.read()
            return response.status

    async def aclose(self) -> None:
        await self.login_client.aclose()
        if self._session is not None:
            await self._session.close()


async def _hammer(clients: list[BenchClient], path: str, case_ids: list[int], seconds: float,
                  rng: random.Random) -> tuple[list[float], list[str], float]:
    latencies: list[float] = []
    errors: list[str] = []
    stop_at = time.perf_counter() + seconds

    async def worker(client: BenchClient) -> None:
        while time.perf_counter() < stop_at:
            target = path.format(id=rng.choice(case_ids)) if "{id}" in path else path
            began = time.perf_counter()
            try:
                status = await client.get(target)
            except REQUEST_ERRORS as exc:
                status = 0
                errors.append(f"{target}: {type(exc).__name__}")
            elapsed = time.perf_counter() - began
            if status == 200:
                latencies.append(elapsed)
            elif status:
                errors.append(f"{target}: HTTP {status}")

    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in clients))
    return latencies, errors, time.perf_counter() - started


def client_cpu_seconds() -> float:
    """CPU seconds this process (the load generator) has used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run_load(base: str, *, clients: int, seconds: float, case_ids: list[int], pid: int,
                   pages: list[str], warmup: float = 2.0, client_kind: str = "aiohttp") -> list[PageResult]:
    rng = random.Random(7)
    emails = ["directeur@school.example", "beheer@school.example"]
    pool = [BenchClient(base, client_kind) for _ in range(clients)]
    results = []
    try:
        for n, client in enumerate(pool):
            if await client.login(emails[n % len(emails)]):
                LOGIN_RACES.append(emails[n % len(emails)])
        for name in pages:
            path = PAGES[name]
            await _hammer(pool, path, case_ids, warmup, rng)  # caches, compiled statements, page cache
            solo, solo_errors, _ = await _hammer(pool[:1], path, case_ids, max(2.0, seconds / 4), rng)
            solo_ordered = sorted(x * 1000 for x in solo)
            cpu_before, client_before = proc_figures(pid)["cpu_s"], client_cpu_seconds()
            latencies, errors, elapsed = await _hammer(pool, path, case_ids, seconds, rng)
            cpu, client_cpu = proc_figures(pid)["cpu_s"] - cpu_before, client_cpu_seconds() - client_before
            errors += [f"(1 client) {e}" for e in solo_errors]
            ordered = sorted(x * 1000 for x in latencies)
            results.append(PageResult(
                page=name, path=path, requests=len(latencies) + len(errors), errors=len(errors), seconds=elapsed,
                rps=(len(latencies) + len(errors)) / elapsed, p50_ms=_percentile(ordered, 0.50),
                p95_ms=_percentile(ordered, 0.95), p99_ms=_percentile(ordered, 0.99),
                mean_ms=statistics.fmean(ordered) if ordered else float("nan"),
                max_ms=ordered[-1] if ordered else float("nan"), server_cpu_s=cpu, client_cpu_s=client_cpu,
                solo_p50_ms=_percentile(solo_ordered, 0.50), solo_p95_ms=_percentile(solo_ordered, 0.95),
                error_examples=sorted(set(errors))[:5]))
    finally:
        await asyncio.gather(*(c.aclose() for c in pool))
    return results


# -- the report -----------------------------------------------------------------------------------
def report(seeded: Seeded, results: list[PageResult], server: dict[str, float], args: argparse.Namespace,
           backend: str) -> str:
    lines = [
        f"database: {backend}; seeded {seeded.posts:,} posts ({seeded.flagged:,} flagged), {seeded.cases:,} cases "
        f"({seeded.open_cases:,} open), {seeded.events:,} case events, {seeded.queue:,} posts in the review queue "
        f"in {seeded.seconds:.1f} s",
        f"load: {args.clients} logged-in clients, {args.seconds:g} s per page after a 2 s warm-up; target p95 < "
        f"{TARGET_P95_MS:g} ms; server: `schoolwacht serve` with {args.workers} worker process(es); "
        f"client: {args.client}",
        "",
        f"{'':<10} {'--- ' + str(args.clients) + ' concurrent clients ':-<70} {'1 client ':-<16}",
        f"{'page':<10} {'requests':>8} {'errors':>6} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
        f"{'max ms':>7} {'cpu ms':>7} {'client':>7} {'p50 ms':>7} {'p95 ms':>7}  p95 ok",
    ]
    for r in results:
        lines.append(f"{r.page:<10} {r.requests:>8} {r.errors:>6} {r.rps:>7.1f} {r.p50_ms:>7.1f} {r.p95_ms:>7.1f} "
                     f"{r.p99_ms:>7.1f} {r.max_ms:>7.1f} {r.cpu_ms_per_request:>7.1f} "
                     f"{r.client_cpu_ms_per_request:>7.1f} {r.solo_p50_ms:>7.1f} "
                     f"{r.solo_p95_ms:>7.1f}  {'yes' if r.ok else 'NO'}")
        for example in r.error_examples:
            lines.append(f"           error: {example}")
    lines += ["", "cpu ms: server CPU time per request under load, all its processes (its inverse times the cores "
                  "it can use bounds req/s); client: the load generator's CPU time per request (same machine)",
              f"logins whose first page after the redirect found no session yet: {len(LOGIN_RACES)} of "
                  f"{args.clients}"]
    lines += [f"server: peak RSS {server['VmHWM']:.0f} MB (now {server['VmRSS']:.0f} MB), "
                  f"CPU {server['cpu_s']:.1f} s in all"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dashboard", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--cases", type=int, default=5_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20.0, help="measuring time per page")
    parser.add_argument("--database-url", default=None,
                        help="an EMPTY PostgreSQL database (postgresql+psycopg://...); default: SQLite in a temp dir")
    parser.add_argument("--keep", type=Path, default=None, help="work in this directory and keep it")
    parser.add_argument("--pages", default=",".join(DEFAULT_PAGES),
                        help=f"comma-separated, from {', '.join(PAGES)} (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=2,
                        help="[dashboard] workers of the server (default: %(default)s, one per core here)")
    parser.add_argument("--client", choices=CLIENT_KINDS, default="aiohttp",
                        help="HTTP client of the load generator (default: %(default)s, the lighter one)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    pages = [p.strip() for p in args.pages.split(",") if p.strip()]
    if not pages or set(pages) - set(PAGES):
        parser.error(f"--pages: choose from {', '.join(PAGES)}")

    with tempfile.TemporaryDirectory(prefix="sw-bench-dashboard-") as scratch:
        workdir = args.keep or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        database_url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
        port = free_port()
        config = write_config(workdir, database_url, port, args.workers)
        seeded = seed(config, posts=args.posts, cases=args.cases)
        if not args.json:
            print(f"seeded in {seeded.seconds:.1f} s; starting the dashboard", file=sys.stderr)
        server = start_server(config, port, workdir / "server.log")
        try:
            results = asyncio.run(run_load(f"http://127.0.0.1:{port}", clients=args.clients, seconds=args.seconds,
                                           case_ids=seeded.case_ids, pid=server.pid, pages=pages,
                                           client_kind=args.client))
            figures = proc_figures(server.pid)
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
    backend = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite"
    ok = all(r.ok for r in results)
    if args.json:
        seeded_out = {k: v for k, v in asdict(seeded).items() if k != "case_ids"}
        print(json.dumps({"database": backend, "seeded": seeded_out, "clients": args.clients, "workers": args.workers,
                          "client": args.client,
                          "seconds_per_page": args.seconds, "target_p95_ms": TARGET_P95_MS,
                          "pages": [asdict(r) | {"ok": r.ok, "cpu_ms_per_request": r.cpu_ms_per_request,
                                                 "client_cpu_ms_per_request": r.client_cpu_ms_per_request}
                                    for r in results],
                          "server_peak_rss_mb": figures["VmHWM"], "server_cpu_s": figures["cpu_s"],
                          "login_races": len(LOGIN_RACES), "ok": ok},
                         indent=2))
    else:
        print(report(seeded, results, figures, args, backend))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
