"""End-to-end pipeline benchmark: fake platform -> crawl -> classify -> alert mail, as in production.

    python -m bench.pipeline [--posts 5000] [--json] [--keep DIR]

A fake Mastodon API (bench.ingest's server: the test mock server's core and Mastodon paging, on
127.0.0.1 port 0, in a thread of this process) serves one hashtag timeline of `--posts` Dutch
statuses by 997 accounts over the last 12 weeks. Every status mentions the school; about 10 % are
planted as insulting, defamatory, threatening, harassing, doxing, discriminating or leaking
(bench.dashboard's NASTY texts), about 6 % as merely negative, the rest harmless. The stages then
run back to back, each exactly as production runs it, each in its own child process:

1. crawl: `python -m crawlers.run SOURCE --config FILE` (what the scheduler's crawl job starts);
2. classify: `schoolwacht classify --pending` (the same `classify_pending` the scheduler's
   classify job calls: classifications, cases and the alert mails queued in the outbox);
3. send: `schoolwacht alerts flush` (the same `flush` the scheduler's outbox job calls, at most
   200 mails a flush), repeated until the outbox is empty, to a real SMTP server (aiosmtpd, in a
   thread of this process) that notes when each mail arrived.

Measured: wall time, CPU time and peak RSS of each stage (`os.wait4` on its process), posts/s per
stage and end to end, and for the alerted posts (severity in `[alerts] immediate`: urgent and
criminal) how long after the posts were available on the platform (the moment the crawl starts:
the platform has served every status since before) they were stored, classified and their mail
received: p50/p95 for the urgent ones and for all alerts. The stages run without the scheduler's
waits in between (classify and outbox jobs run every 60 s by default, adding up to two minutes in
production).

Checked (exit status 1 when one fails): every post served was stored once with its own capture;
every post was classified exactly once; every alerted post's mail arrived exactly once for each
director, no other alert mail arrived, and nothing is left waiting or failed in the outbox. The
planted labels against what the model decided are printed for information (the model decides
which posts are alerted). Targets are not checked here: see bench.ingest and bench.classify.
Not a test: pytest never runs it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # also runnable as `python bench/pipeline.py`
    sys.path.insert(0, str(ROOT))

import tomli_w  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from bench import ingest  # noqa: E402
from bench.dashboard import NASTY, NEGATIVE, NICE, _percentile, free_port  # noqa: E402
from crawlers.spiders.mastodon import PAGE_LIMIT  # noqa: E402
from store.config import Settings, load_settings  # noqa: E402
from store.db import make_engine, session_scope  # noqa: E402
from store.models import Classification, Outbox, Post  # noqa: E402
from tests.mockserver import server as mock  # noqa: E402
from tests.mockserver.platforms import mastodon as fake_mastodon  # noqa: E402

PLATFORM = "bench-pipeline"
DIRECTORS = ["directeur@school.example"]
AUTHORS = 997  # accounts posting; a case collects one author's flagged posts (thread key)
SPAN = timedelta(weeks=12)
NASTY_SHARE = 0.10
NEGATIVE_SHARE = 0.06
_MENTIONS = ("verkruisen", "verkruizen", "muntendam")
# Harmless and negative texts, each mentioning the school (a post that does not is never stored).
HARMLESS = tuple(t for t in NICE if any(m in t.lower() for m in _MENTIONS)) + tuple(
    t for n, t in enumerate(ingest.TEXTS) if n not in (1, 4))
NEGATIVE_TEXTS = (*NEGATIVE, ingest.TEXTS[1], ingest.TEXTS[4])
CLI = [sys.executable, "-c", "from schoolwacht.cli import main; main()"]


# -- the platform ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Planted:
    kind: str  # a category of classifier.labels.CATEGORIES, "negative" or "harmless"
    text: str


def planted(i: int) -> Planted:
    """The text of status `i` and what it was written to be; the same for every run."""
    rng = random.Random(i * 7919 + 17)
    roll = rng.random()
    if roll < NASTY_SHARE:
        kind = rng.choice(sorted(NASTY))
        text = NASTY[kind].format(who=rng.choice(("juf", "meester", "directeur", "conciërge")),
                                  bad=rng.choice(("sukkel", "idioot", "heks", "nietsnut")),
                                  group=rng.choice(("buitenlanders", "moslims")))
        return Planted(kind, text)
    if roll < NASTY_SHARE + NEGATIVE_SHARE:
        return Planted("negative", rng.choice(NEGATIVE_TEXTS))
    return Planted("harmless", rng.choice(HARMLESS))


class _Timeline:
    now = datetime.now(UTC)  # set again when a benchmark starts: statuses span the 12 weeks before


def status(i: int, total: int) -> dict[str, Any]:
    """Status `i` of `total`: the mock's Mastodon status with a planted text, author and age."""
    item = fake_mastodon.status(i, account_id=str(i % AUTHORS + 1), texts=[planted(i).text])
    created = _Timeline.now - SPAN * (total - i) / total
    item["created_at"] = created.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return item


@mock.platform(PLATFORM)
def _pipeline_platform(req: mock.Request) -> mock.Reply:
    """A hashtag timeline of `n<count>` mixed statuses, paged like Mastodon (the mock's paging).

    The mock's `page` filters the whole id list for every page; a page below `max_id` only needs
    the `limit` ids under it, so only those are passed (same reply, a page in microseconds).
    """
    if not req.path.startswith("/api/v1/timelines/tag/"):
        return mock.Reply.json({"error": "Record not found"}, status=404)
    total = int(req.scenario.removeprefix("n"))
    ids: range = range(1, total + 1)
    if not (req.arg("min_id") or req.arg("since_id")):
        limit = min(int(req.arg("limit", "20") or 20), 40)
        max_id = req.arg("max_id")
        top = min(total, int(max_id) - fake_mastodon.BASE_ID - 1) if max_id else total
        ids = range(max(1, top - limit + 1), top + 1)
    return fake_mastodon.page(req, list(ids), lambda i: status(i, total))


def serve_timeline(posts: int) -> tuple[Any, str]:
    """Start the fake platform and render every page once (bench.ingest); returns (server, base URL)."""
    _Timeline.now = datetime.now(UTC)
    server, url = ingest.start_server()
    base_url = f"{url}/{PLATFORM}/n{posts}"
    ingest.prerender(server, f"{base_url}/api/v1/timelines/tag/verkruisen?{urlencode({'limit': str(PAGE_LIMIT)})}")
    return server, base_url


def stop_server(server: Any) -> None:
    server.shutdown()
    server.server_close()


# -- the mail server -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Mail:
    key: str  # the outbox dedup key (header X-Schoolwacht-Outbox)
    message_id: str
    recipients: tuple[str, ...]
    received: datetime


class Inbox:
    """aiosmtpd on 127.0.0.1 in a thread; keeps the key, Message-ID and arrival time of each mail."""

    def __init__(self) -> None:
        self.mails: list[Mail] = []
        self.lock = threading.Lock()
        self.port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, ready_timeout=10)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        received = datetime.now(UTC)
        message = BytesParser(policy=policy.default).parsebytes(envelope.original_content or envelope.content)
        with self.lock:
            self.mails.append(Mail(str(message.get("X-Schoolwacht-Outbox", "")), str(message.get("Message-ID", "")),
                                   tuple(envelope.rcpt_tos), received))
        return "250 OK"

    def start(self) -> Inbox:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()


# -- processes -------------------------------------------------------------------------------------
@dataclass
class Stage:
    name: str
    exit_code: int = 0
    runs: int = 0  # processes started (the send stage runs one flush per 200 mails)
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0  # user + system of its process(es)
    peak_rss_mb: float = 0.0  # the largest of its processes
    items: int = 0  # posts stored / classified, mails received
    per_second: float = 0.0  # items over the wall time, process start included
    # Items a second once the work is under way: the crawl's first to last request; classify
    # after its first batch was committed (model loaded, as in the scheduler's long-lived process).
    steady_per_second: float = float("nan")

    def add(self, run: Measured) -> None:
        self.runs += 1
        self.exit_code = self.exit_code or run.exit_code
        self.wall_seconds += run.wall_seconds
        self.cpu_seconds += run.cpu_seconds
        self.peak_rss_mb = max(self.peak_rss_mb, run.peak_rss_mb)


@dataclass(frozen=True)
class Measured:
    exit_code: int
    wall_seconds: float
    cpu_seconds: float
    peak_rss_mb: float


def start_process(command: list[str], log: Path) -> tuple[subprocess.Popen[bytes], float]:
    """Start `command` in the repository root, output appended to `log`; returns it and its start time."""
    with log.open("ab") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                   env={**os.environ, "PYTHONPATH": str(ROOT)})
    return process, time.perf_counter()


def wait_process(process: subprocess.Popen[bytes], started: float) -> Measured:
    """Wait for `process` with `os.wait4`: its own CPU time and peak RSS, whatever else ran."""
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    # ru_maxrss is in kilobytes on Linux (bytes on macOS).
    peak = usage.ru_maxrss / (1024 * 1024) if sys.platform == "darwin" else usage.ru_maxrss / 1024
    return Measured(process.returncode, wall, usage.ru_utime + usage.ru_stime, peak)


def run_process(command: list[str], log: Path) -> Measured:
    return wait_process(*start_process(command, log))


def crawl_command(config: Path) -> list[str]:
    """What the scheduler's crawl job starts (crawlers.process), as bench.ingest runs it."""
    return [sys.executable, "-m", "crawlers.run", ingest.SOURCE, "--config", str(config)]


def classify_command(config: Path) -> list[str]:
    return [*CLI, "--config", str(config), "classify", "--pending"]


def flush_command(config: Path) -> list[str]:
    return [*CLI, "--config", str(config), "alerts", "flush"]


def extend_config(path: Path, **sections: dict[str, Any]) -> None:
    """Add sections (mail, dashboard, ...) to the configuration bench.ingest.write_config wrote."""
    config = tomllib.loads(path.read_text(encoding="utf-8"))
    for name, values in sections.items():
        config[name] = {**config.get(name, {}), **values}
    path.write_text(tomli_w.dumps(config), encoding="utf-8")


def log_tail(log: Path, chars: int = 3000) -> str:
    return log.read_text(encoding="utf-8", errors="replace")[-chars:] if log.exists() else ""


# -- the benchmark ---------------------------------------------------------------------------------
@dataclass
class Latency:
    posts: int = 0
    stored_p50_s: float = float("nan")
    stored_p95_s: float = float("nan")
    classified_p50_s: float = float("nan")
    classified_p95_s: float = float("nan")
    mailed_p50_s: float = float("nan")
    mailed_p95_s: float = float("nan")
    mailed_max_s: float = float("nan")


@dataclass
class Result:
    posts_served: int
    stages: list[Stage]
    classify_first_batch_seconds: float  # classify's process start to its first batch committed
    end_to_end_seconds: float  # crawl start to the last mail received
    end_to_end_posts_per_second: float
    posts_stored: int
    capture_mismatches: int
    classifications: int
    posts_classified: int  # distinct posts with a classification
    by_severity: dict[str, int]
    alerts_expected: int  # alerted posts x directors
    alerts_received: int  # distinct expected keys that arrived
    alerts_missing: int
    alerts_duplicated: int  # extra copies of a key that arrived more than once
    alerts_unexpected: int  # mails whose key no alerted post explains
    outbox_pending: int
    outbox_failed: int
    urgent: Latency
    alerted: Latency
    planted: dict[str, dict[str, int]]  # planted kind -> severity decided by the model -> posts
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def _seconds_after(t0: datetime, moments: list[datetime]) -> list[float]:
    return sorted((m - t0).total_seconds() for m in moments)


def latency(t0: datetime, rows: list[tuple[datetime, datetime, datetime | None]]) -> Latency:
    """p50/p95 seconds from `t0` to stored, classified and mail received, over (stored, classified, mailed)."""
    stored = _seconds_after(t0, [r[0] for r in rows])
    classified = _seconds_after(t0, [r[1] for r in rows])
    mailed = _seconds_after(t0, [r[2] for r in rows if r[2] is not None])
    def p(values: list[float], share: float) -> float:
        return round(_percentile(values, share), 3)

    return Latency(posts=len(rows), stored_p50_s=p(stored, 0.5), stored_p95_s=p(stored, 0.95),
                   classified_p50_s=p(classified, 0.5), classified_p95_s=p(classified, 0.95),
                   mailed_p50_s=p(mailed, 0.5), mailed_p95_s=p(mailed, 0.95), mailed_max_s=p(mailed, 1.0))


def _index(uri: str) -> int:
    """The status number `i` of a stored post (its external id is the status URI)."""
    return int(uri.rsplit("/", 1)[1]) - fake_mastodon.BASE_ID


def check_pipeline(settings: Settings, inbox: Inbox, t0: datetime) -> dict[str, Any]:
    """Classifications, alerts and outbox against what the model decided; latencies of the alerted posts."""
    engine = make_engine(settings.database.url)
    try:
        with session_scope(engine) as session:
            count, distinct = session.execute(
                select(func.count(), func.count(func.distinct(Classification.post_id)))).one()
            rows = session.execute(
                select(Post.id, Post.external_id, Post.fetched_at, Classification.severity, Classification.created_at)
                .join(Classification, Classification.post_id == Post.id).order_by(Post.id)).all()
            pending = session.execute(select(func.count()).select_from(Outbox).where(
                Outbox.sent_at.is_(None), Outbox.failed_at.is_(None))).scalar_one()  # type: ignore[union-attr]
            failed = session.execute(select(func.count()).select_from(Outbox).where(
                Outbox.failed_at.is_not(None))).scalar_one()  # type: ignore[union-attr]
    finally:
        engine.dispose()
    immediate = set(settings.alerts.immediate)
    with inbox.lock:
        mails = list(inbox.mails)
    arrived: dict[str, list[datetime]] = {}
    for mail in mails:
        arrived.setdefault(mail.key, []).append(mail.received)
    expected: set[str] = set()
    planted_table: dict[str, Counter[str]] = {}
    urgent_rows, alerted_rows = [], []
    for post_id, external_id, fetched_at, severity, classified_at in rows:
        planted_table.setdefault(planted(_index(external_id)).kind, Counter())[severity] += 1
        if severity not in immediate:
            continue
        keys = [f"alert:post:{post_id}:{d.strip().lower()}" for d in DIRECTORS]
        expected.update(keys)
        firsts = [min(arrived[k]) for k in keys if k in arrived]
        row = (fetched_at, classified_at, max(firsts) if len(firsts) == len(keys) else None)
        alerted_rows.append(row)
        if severity == "urgent":
            urgent_rows.append(row)
    return {
        "classifications": int(count), "posts_classified": int(distinct),
        "by_severity": dict(Counter(r[3] for r in rows)),
        "alerts_expected": len(expected), "alerts_received": len(expected & arrived.keys()),
        "alerts_missing": len(expected - arrived.keys()),
        "alerts_duplicated": sum(len(v) - 1 for v in arrived.values()),
        "alerts_unexpected": sum(len(v) for k, v in arrived.items() if k not in expected),
        "outbox_pending": int(pending), "outbox_failed": int(failed),
        "urgent": latency(t0, urgent_rows), "alerted": latency(t0, alerted_rows),
        "planted": {k: dict(sorted(v.items())) for k, v in sorted(planted_table.items())},
        "last_mail": max((m.received for m in mails), default=None),
    }


def classify_rate(settings: Settings, *, after_id: int = 0) -> tuple[float, float]:
    """Posts/s of the classifications with ids above `after_id` after their first batch, and
    the seconds from `started` (wall clock of the process start) to that first batch's commit."""
    engine = make_engine(settings.database.url)
    try:
        with session_scope(engine) as session:
            times = list(session.execute(select(Classification.created_at).where(Classification.id > after_id)
                                         .order_by(Classification.id)).scalars())
    finally:
        engine.dispose()
    batch = settings.classifier.batch_size * 4  # what classify_pending commits at a time
    if len(times) <= batch:
        return float("nan"), times[-1].timestamp() if times else float("nan")
    first = max(times[:batch])
    span = (times[-1] - first).total_seconds()
    return ((len(times) - batch) / span if span > 0 else float("nan")), first.timestamp()


def outbox_waiting(settings: Settings) -> int:
    engine = make_engine(settings.database.url)
    try:
        with session_scope(engine) as session:
            return int(session.execute(select(func.count()).select_from(Outbox).where(
                Outbox.sent_at.is_(None), Outbox.failed_at.is_(None))).scalar_one())  # type: ignore[union-attr]
    finally:
        engine.dispose()


def benchmark(posts: int, workdir: Path) -> tuple[Result, str]:
    """Run the three stages on `posts` statuses in `workdir`; returns the figures and a log tail."""
    server, base_url = serve_timeline(posts)
    inbox = Inbox().start()
    log = workdir / "pipeline.log"
    failures: list[str] = []
    try:
        config = ingest.write_config(workdir, base_url, posts)
        extend_config(config, mail={"host": "127.0.0.1", "port": inbox.port, "director": DIRECTORS,
                                    "timeout_seconds": 10})
        settings = load_settings(config, environ={})

        t0 = datetime.now(UTC)  # every status is available on the platform from here on
        crawl = Stage("crawl")
        crawl.add(run_process(crawl_command(config), log))
        stored, _captures, mismatches, last_error = ingest.check_store(config)
        crawl.items = stored
        if ingest.CLOCK.first is not None and ingest.CLOCK.last is not None and ingest.CLOCK.last > ingest.CLOCK.first:
            crawl.steady_per_second = stored / (ingest.CLOCK.last - ingest.CLOCK.first)
        if crawl.exit_code or last_error:
            failures.append(f"crawl: exit {crawl.exit_code}, source error {last_error or '-'}")

        classify = Stage("classify")
        classify_started = time.time()
        classify.add(run_process(classify_command(config), log))
        classify.steady_per_second, first_batch = classify_rate(settings)
        classify_ready = first_batch - classify_started
        if classify.exit_code:
            failures.append(f"classify: exit {classify.exit_code}")

        send = Stage("send")
        waiting = outbox_waiting(settings)
        for _ in range(waiting // 200 + 5):  # 200 mails a flush (alerts.outbox.FLUSH_LIMIT)
            if not waiting:
                break
            send.add(run_process(flush_command(config), log))
            left = outbox_waiting(settings)
            if left >= waiting:  # nothing went out: stop rather than spin
                failures.append(f"send: a flush sent nothing, {left} mails still waiting")
                break
            waiting = left
        if send.exit_code:
            failures.append(f"send: exit {send.exit_code}")
        figures = check_pipeline(settings, inbox, t0)
    finally:
        inbox.stop()
        stop_server(server)

    classify.items = figures["posts_classified"]
    with inbox.lock:
        send.items = len(inbox.mails)
    for stage in (crawl, classify, send):
        stage.per_second = round(stage.items / stage.wall_seconds, 1) if stage.wall_seconds else 0.0
        stage.wall_seconds, stage.cpu_seconds = round(stage.wall_seconds, 3), round(stage.cpu_seconds, 2)
        stage.peak_rss_mb = round(stage.peak_rss_mb, 1)
        stage.steady_per_second = round(stage.steady_per_second, 1)
    last_mail = figures.pop("last_mail")
    stages_seconds = crawl.wall_seconds + classify.wall_seconds + send.wall_seconds
    end = max(stages_seconds, (last_mail - t0).total_seconds() if last_mail else 0.0)
    result = Result(posts_served=posts, stages=[crawl, classify, send],
                    classify_first_batch_seconds=round(classify_ready, 2), end_to_end_seconds=round(end, 3),
                    end_to_end_posts_per_second=round(stored / end, 1) if end else 0.0,
                    posts_stored=stored, capture_mismatches=mismatches, failures=failures, **figures)
    failures = result.failures
    if stored != posts:
        failures.append(f"posts lost: {posts - stored} of {posts} not stored")
    if mismatches:
        failures.append(f"{mismatches} posts stored with the wrong capture")
    if result.classifications != stored or result.posts_classified != stored:
        failures.append(f"classified {result.posts_classified} posts ({result.classifications} classifications) "
                        f"of {stored}: each must be classified exactly once")
    if result.alerts_missing:
        failures.append(f"alerts missing: {result.alerts_missing} of {result.alerts_expected}")
    if result.alerts_duplicated:
        failures.append(f"alerts doubled: {result.alerts_duplicated} extra copies")
    if result.alerts_unexpected:
        failures.append(f"alert mails no alerted post explains: {result.alerts_unexpected}")
    if result.outbox_pending or result.outbox_failed:
        failures.append(f"outbox: {result.outbox_pending} still waiting, {result.outbox_failed} failed")
    return result, log_tail(log)


# -- the report ------------------------------------------------------------------------------------
def _latency_line(name: str, lat: Latency) -> str:
    return (f"  {name:<9} {lat.posts:>6,}   stored {lat.stored_p50_s:>6.1f} / {lat.stored_p95_s:>6.1f}   "
            f"classified {lat.classified_p50_s:>6.1f} / {lat.classified_p95_s:>6.1f}   "
            f"mail received {lat.mailed_p50_s:>6.1f} / {lat.mailed_p95_s:>6.1f} (max {lat.mailed_max_s:.1f})")


def report(result: Result) -> str:
    def verdict(good: bool) -> str:
        return "ok" if good else "FAILED"

    units = {"crawl": "posts stored", "classify": "posts classified", "send": "mails received"}
    lines = [
        f"Schoolwacht pipeline benchmark: {result.posts_served:,} posts, crawl -> classify -> alert mail (SQLite)",
        "",
        f"  {'stage':<9} {'processes':>9} {'wall s':>8} {'CPU s':>8} {'peak RSS MB':>11} {'items':>8} {'per s':>8} "
        f"{'steady/s':>8}",
    ]
    for s in result.stages:
        lines.append(f"  {s.name:<9} {s.runs:>9} {s.wall_seconds:>8.2f} {s.cpu_seconds:>8.2f} {s.peak_rss_mb:>11.1f} "
                     f"{s.items:>8,} {s.per_second:>8,.1f} {s.steady_per_second:>8,.1f}   {units[s.name]}, "
                     f"exit {s.exit_code}")
    lines += [
        "  per s: over the wall time, process start included; steady/s: crawl's first to last request, classify "
        f"after its first batch (committed {result.classify_first_batch_seconds:.1f} s after its start: imports, "
        "model load, one batch)",
        f"  end to end          {result.end_to_end_seconds:>8.2f} s   {result.end_to_end_posts_per_second:,.1f} "
        "posts/s (crawl start to the last mail)",
        "",
        "Seconds from 'available on the platform' (crawl start) to ..., p50 / p95:",
        _latency_line("urgent", result.urgent),
        _latency_line("alerted", result.alerted),
        "",
        f"  posts stored      {result.posts_stored:>8,} of {result.posts_served:,}   "
        f"{verdict(result.posts_stored == result.posts_served)}",
        f"  wrong captures    {result.capture_mismatches:>8,}   {verdict(result.capture_mismatches == 0)}",
        f"  classified        {result.posts_classified:>8,} posts, {result.classifications:,} classifications   "
        f"{verdict(result.posts_classified == result.classifications == result.posts_stored)}",
        "  severities        " + ", ".join(f"{k} {v:,}" for k, v in sorted(result.by_severity.items())),
        f"  alerts            {result.alerts_received:>8,} of {result.alerts_expected:,} received, "
        f"{result.alerts_missing} missing, {result.alerts_duplicated} doubled, {result.alerts_unexpected} unexpected   "
        f"{verdict(not (result.alerts_missing or result.alerts_duplicated or result.alerts_unexpected))}",
        f"  outbox            {result.outbox_pending:>8,} waiting, {result.outbox_failed} failed   "
        f"{verdict(not (result.outbox_pending or result.outbox_failed))}",
        "",
        "Planted kind -> severity the model gave (posts):",
    ]
    for kind, severities in result.planted.items():
        lines.append(f"  {kind:<15} " + ", ".join(f"{k} {v:,}" for k, v in severities.items()))
    lines += [f"FAILED: {f}" for f in result.failures]
    return "\n".join(lines)


def plain(value: Any) -> Any:
    """`value` for JSON: NaN (no sample) as null, datetimes as ISO text."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=5_000, help="statuses on the timeline (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--keep", type=Path, default=None, help="work in this directory and keep it")
    args = parser.parse_args(argv)
    if args.posts < 1:
        parser.error("--posts must be at least 1")
    with tempfile.TemporaryDirectory(prefix="sw-bench-pipeline-") as scratch:
        workdir = args.keep or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        result, tail = benchmark(args.posts, workdir)
    if args.json:
        print(json.dumps(plain({**asdict(result), "ok": result.ok}), indent=2))
    else:
        print(report(result))
    if not result.ok and tail:
        print(tail, file=sys.stderr)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
