"""Load test (issue 7, point 3): ingest 100,000 posts, then classify 10,000 pending posts while 20
logged-in dashboard clients load the overview, the review queue and case pages.

    python -m bench.load [--posts 100000] [--pending 10000] [--clients 20] [--seconds 60]
                         [--workers 2] [--json] [--keep DIR]

(a) Ingest: bench.pipeline's fake Mastodon timeline (`--posts` Dutch statuses by 997 accounts over
    the last 12 weeks, about 16 % of them insulting, threatening, ... or negative) is crawled once,
    exactly as production does it (`python -m crawlers.run`, one child process), into SQLite.
(b) History: the crawl leaves every post unclassified. All but the newest `--pending` posts get a
    placeholder classification (model `bench-placeholder`) through SQLAlchemy core bulk inserts,
    labelled with what their text was written to be; their flagged posts are grouped into cases
    per author (three posts a case, every workflow status, with timelines and review verdicts), as
    months of production would have left them. That leaves exactly `--pending` posts for the
    classifier, and gives the dashboard real pages to render.
(c) Load: the dashboard runs exactly as production does (`schoolwacht serve` with `[dashboard]
    workers`, a child process; bench.dashboard starts it). `--clients` clients log in through the
    login form (bench.dashboard's login) and, after a 2 s warm-up, each requests one page after
    another without pause, picking the overview `/`, the review queue `/review` or a random case
    page `/cases/{id}` (one in three each). At the same moment `schoolwacht classify --pending`
    starts (the scheduler's classify job: classifications, cases, alert mails queued). The load
    lasts `--seconds`, or until the classifier is done if that takes longer.

Reported: ingest posts/s and the crawl's peak RSS; classification posts/s under load (over the
classifier's wall time, and steady: after its first batch, the model loaded), its CPU time and
peak RSS; per page requests, errors, p50/p95/p99 under load, split into the part while the
classifier ran and the part after; the dashboard's peak RSS (all its processes, summed) and CPU.
Targets are printed as met or missed (ingest >= 1,000 posts/s and classify >= 200 posts/s from issue
3, dashboard p95 < 100 ms from issue 5); the exit status is 1 only on errors: a post lost, the
classifier failing or leaving posts unclassified, a page answering anything but 200. The client,
the dashboard and the classifier share the machine. Not a test: pytest never runs it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # also runnable as `python bench/load.py`
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from bench import ingest  # noqa: E402
from bench.dashboard import (  # noqa: E402
    PAGES,
    PASSWORD,
    REQUEST_ERRORS,
    STATUS_MIX,
    TARGET_P95_MS,
    BenchClient,
    _bulk,
    _fix_sequences,
    _percentile,
    free_port,
    proc_figures,
    start_server,
)
from bench.pipeline import (  # noqa: E402
    DIRECTORS,
    Measured,
    _index,
    classify_command,
    classify_rate,
    crawl_command,
    extend_config,
    log_tail,
    plain,
    planted,
    run_process,
    serve_timeline,
    start_process,
    stop_server,
    wait_process,
)
from classifier.labels import ARTICLES, CATEGORIES, COMPLAINT_OFFENCES, SEVERITIES, severity_for  # noqa: E402
from store.cases import complaint_deadline  # noqa: E402
from store.config import Settings, load_settings  # noqa: E402
from store.db import make_engine, session_scope  # noqa: E402
from store.models import Case, CaseEvent, CasePost, Classification, Feedback, Post  # noqa: E402
from store.types import utcnow  # noqa: E402
from store.users import set_user  # noqa: E402
from store.workflow import FLOW  # noqa: E402

TARGET_INGEST_POSTS_PER_SECOND = ingest.TARGET_POSTS_PER_SECOND  # 1,000
TARGET_CLASSIFY_POSTS_PER_SECOND = 200.0
PLACEHOLDER_MODEL = "bench-placeholder"
LOAD_PAGES = ("overview", "review", "case")  # picked with equal chances, a fresh pick per request
POSTS_PER_CASE = 3
WARMUP_SECONDS = 2.0
MAX_EXTRA_SECONDS = 1800.0  # the load stops at the latest this long after --seconds, classifier or not


# -- (b) the history -------------------------------------------------------------------------------
@dataclass
class History:
    classified: int = 0  # placeholder classifications
    flagged: int = 0
    cases: int = 0
    open_cases: int = 0
    events: int = 0
    queue: int = 0  # flagged posts nobody judged: the review queue
    pending: int = 0  # posts left without a classification
    last_classification_id: int = 0
    seconds: float = 0.0
    case_ids: list[int] = field(default_factory=list)


def _placeholder_labels(kind: str, rng: random.Random) -> tuple[str, list[str]]:
    if kind in CATEGORIES:
        return "negative", [kind]
    if kind == "negative":
        return "negative", []
    return rng.choice(("neutral", "neutral", "positive")), []


def seed_history(config: Path, *, pending: int, seed_value: int = 11) -> History:
    """Placeholder classifications for all but the newest `pending` posts (by `created_at`: the crawl
    stores a timeline newest first), cases for their flagged posts and the accounts (bench.dashboard's),
    through core bulk inserts; returns what was made."""
    started = time.perf_counter()
    rng = random.Random(seed_value)
    settings = load_settings(config, environ={})
    engine = make_engine(settings.database.url)
    with session_scope(engine) as session:
        set_user(session, email="beheer@school.example", role="admin", password=PASSWORD, name="Beheer")
        director = set_user(session, email="directeur@school.example", role="director", password=PASSWORD,
                            name="Directeur")
        director_id = director.id
        staff_ids = [set_user(session, email=f"leerkracht{n}@school.example", role="staff", password=PASSWORD,
                              name=f"Leerkracht {n}").id for n in range(1, 6)]
    with engine.connect() as conn:
        posts = conn.execute(select(Post.id, Post.external_id, Post.school_id, Post.platform, Post.author_handle,
                                    Post.text, Post.created_at, Post.fetched_at)
                             .order_by(Post.created_at, Post.id)).all()
        if conn.execute(select(func.count()).select_from(Classification)).scalar_one():
            raise SystemExit("the database already holds classifications")
    if pending > len(posts):
        raise SystemExit(f"--pending {pending} is more than the {len(posts)} posts stored")
    history = History(pending=pending)
    class_rows: list[dict[str, Any]] = []
    class_ids: dict[int, int] = {}  # post id -> its placeholder classification's id
    by_author: dict[str, list[tuple[int, str, list[str], Any]]] = {}
    for post_id, external_id, school_id, platform, author, text, created, fetched in posts[:len(posts) - pending]:
        sentiment, categories = _placeholder_labels(planted(_index(external_id)).kind, rng)
        severity = severity_for(sentiment, categories)
        scores = {c: round(rng.random() * 0.3, 3) for c in CATEGORIES} | {c: 0.91 for c in categories}
        explanations = {c: [{"start": 0, "end": min(40, len(text)), "text": text[:40], "source": "model",
                             "rule": None}] for c in categories}
        class_ids[post_id] = len(class_rows) + 1
        class_rows.append({"id": class_ids[post_id], "post_id": post_id, "model": PLACEHOLDER_MODEL, "version": "bench",
                           "language": "nl", "sentiment": sentiment, "sentiment_score": 0.8, "scores": scores,
                           "categories": categories, "explanations": explanations, "severity": severity,
                           "created_at": fetched})
        if severity != "none":
            key = f"{school_id}:{platform}:{(author or '').lower()}"  # store.cases.thread_key
            by_author.setdefault(key, []).append((post_id, severity, categories, created))
    _bulk(engine, Classification, class_rows)
    history.classified = len(class_rows)
    history.last_classification_id = len(class_rows)
    del class_rows

    # Cases: an author's flagged posts, three a case in order; only an author's last case may still
    # be open (a new flagged post joins the open case of its author, store.cases.open_or_join_case).
    now = utcnow()
    school_id = posts[0][2] if posts else 0
    statuses, weights = zip(*STATUS_MIX.items(), strict=True)
    done_statuses, done_weights = ("closed", "dismissed"), (STATUS_MIX["closed"], STATUS_MIX["dismissed"])
    case_rows, link_rows, event_rows, feedback_rows = [], [], [], []
    for key, flagged in sorted(by_author.items()):
        chunks = [flagged[n:n + POSTS_PER_CASE] for n in range(0, len(flagged), POSTS_PER_CASE)]
        for number, items in enumerate(chunks):
            last = number == len(chunks) - 1
            status = rng.choices(statuses, weights)[0] if last else rng.choices(done_statuses, done_weights)[0]
            case_id = len(case_rows) + 1
            opened = min(now, min(i[3] for i in items) + timedelta(minutes=61))
            severity = max((i[1] for i in items), key=SEVERITIES.index)
            categories = sorted({c for i in items for c in i[2]})
            steps = list(FLOW[1:FLOW.index(status) + 1]) if status in FLOW else ["triaged", status]
            step_at = [min(now, opened + timedelta(hours=rng.randint(2, 60) * (n + 1))) for n in range(len(steps))]
            updated = step_at[-1] if step_at else opened
            done = status in ("closed", "dismissed")
            case_rows.append({
                "id": case_id, "school_id": school_id, "status": status, "severity": severity, "opened_at": opened,
                "updated_at": updated, "closed_at": updated if done else None, "learned_at": opened,
                "assignee_id": rng.choice(staff_ids) if rng.random() < 0.3 else None, "categories": categories,
                "articles": [ARTICLES[c] for c in categories],
                "deadline": complaint_deadline(opened, categories) if set(categories) & set(COMPLAINT_OFFENCES)
                else None, "thread_key": key,
                "police_reference": f"PL0100-2026{case_id:06d}" if status == "reported" else None,
                "reported_at": updated if status == "reported" else None})
            link_rows += [{"case_id": case_id, "post_id": i[0], "added_at": opened} for i in items]
            event_rows.append({"id": len(event_rows) + 1, "case_id": case_id, "at": opened, "actor_id": None,
                               "actor": "systeem", "action": "opened", "note": "Geopend door classificatie",
                               "data": {"post_id": items[0][0]}})
            previous = "new"
            for step, at in zip(steps, step_at, strict=True):
                event_rows.append({"id": len(event_rows) + 1, "case_id": case_id, "at": at, "actor_id": director_id,
                                   "actor": "directeur@school.example", "action": "status", "note": "",
                                   "data": {"from": previous, "to": step}})
                previous = step
            if status in ("new", "triaged"):
                history.queue += len(items)
            else:  # somebody judged these posts
                verdict = "dismissed" if status == "dismissed" else "confirmed"
                for item in items:
                    feedback_rows.append({"id": len(feedback_rows) + 1, "post_id": item[0],
                                          "classification_id": class_ids[item[0]], "user_id": director_id,
                                          "verdict": verdict, "sentiment": None, "categories": [], "note": "",
                                          "created_at": step_at[0]})
            history.flagged += len(items)
            history.open_cases += not done
    _bulk(engine, Case, case_rows)
    _bulk(engine, CasePost, link_rows)
    _bulk(engine, CaseEvent, event_rows)
    _bulk(engine, Feedback, feedback_rows)
    _fix_sequences(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    history.cases, history.events = len(case_rows), len(event_rows)
    history.case_ids = [row["id"] for row in case_rows]
    history.seconds = round(time.perf_counter() - started, 2)
    return history


# -- (c) the load ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sample:
    page: str
    at: float  # seconds after the load (and the classifier) started
    seconds: float
    error: str | None


class Background:
    """A child process measured with `os.wait4` from a thread, so the load goes on meanwhile."""

    def __init__(self, command: list[str], log: Path) -> None:
        self.process, self.started = start_process(command, log)
        self.done = threading.Event()
        self.measured: Measured | None = None
        threading.Thread(target=self._wait, name="wait-classifier", daemon=True).start()

    def _wait(self) -> None:
        self.measured = wait_process(self.process, self.started)
        self.done.set()


async def mixed_load(pool: list[BenchClient], case_ids: list[int], *, seconds: float, rng: random.Random,
                     extend: Callable[[float], bool]) -> list[Sample]:
    """Every client requests a random page of LOAD_PAGES after another for `seconds`, and on while
    `extend(elapsed)` says so."""
    samples: list[Sample] = []
    started = time.perf_counter()

    def going() -> bool:
        elapsed = time.perf_counter() - started
        return elapsed < seconds or extend(elapsed)

    async def worker(client: BenchClient) -> None:
        while going():
            page = rng.choice(LOAD_PAGES)
            target = PAGES[page].format(id=rng.choice(case_ids)) if "{id}" in PAGES[page] else PAGES[page]
            began = time.perf_counter()
            error: str | None = None
            try:
                status = await client.get(target)
                if status != 200:
                    error = f"{target}: HTTP {status}"
            except REQUEST_ERRORS as exc:
                error = f"{target}: {type(exc).__name__}"
            samples.append(Sample(page, began - started, time.perf_counter() - began, error))

    await asyncio.gather(*(worker(c) for c in pool))
    return samples


async def run_load(base: str, *, clients: int, seconds: float, case_ids: list[int], classify: list[str],
                   log: Path) -> tuple[list[Sample], Background, float]:
    """Log in, warm up, start the classifier and load the dashboard; returns the samples, the
    classifier and how long the load lasted."""
    rng = random.Random(7)
    emails = ["directeur@school.example", "beheer@school.example"]
    pool = [BenchClient(base) for _ in range(clients)]
    try:
        for n, client in enumerate(pool):
            await client.login(emails[n % len(emails)])
        await mixed_load(pool, case_ids, seconds=WARMUP_SECONDS, rng=rng, extend=lambda _: False)
        started = time.perf_counter()
        classifier = Background(classify, log)
        samples = await mixed_load(
            pool, case_ids, seconds=seconds, rng=rng,
            extend=lambda elapsed: not classifier.done.is_set() and elapsed < seconds + MAX_EXTRA_SECONDS)
        lasted = time.perf_counter() - started
    finally:
        await asyncio.gather(*(c.aclose() for c in pool))
    await asyncio.to_thread(classifier.done.wait)
    return samples, classifier, lasted


@dataclass
class PageLoad:
    page: str
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    # The same page while the classifier ran, and after it was done (nan: no such request).
    during_requests: int
    during_p50_ms: float
    during_p95_ms: float
    after_requests: int
    after_p50_ms: float
    after_p95_ms: float
    error_examples: list[str] = field(default_factory=list)

    @property
    def p95_met(self) -> bool:
        return self.requests > 0 and self.p95_ms < TARGET_P95_MS


def page_figures(samples: list[Sample], lasted: float, classifier_seconds: float) -> list[PageLoad]:
    results = []
    for page in LOAD_PAGES:
        mine = [s for s in samples if s.page == page]
        good = sorted(s.seconds * 1000 for s in mine if s.error is None)
        during = sorted(s.seconds * 1000 for s in mine if s.error is None and s.at < classifier_seconds)
        after = sorted(s.seconds * 1000 for s in mine if s.error is None and s.at >= classifier_seconds)
        errors = [s.error for s in mine if s.error]
        results.append(PageLoad(
            page=page, requests=len(mine), errors=len(errors), rps=round(len(mine) / lasted, 1) if lasted else 0.0,
            p50_ms=_percentile(good, 0.5), p95_ms=_percentile(good, 0.95), p99_ms=_percentile(good, 0.99),
            max_ms=good[-1] if good else float("nan"), during_requests=len(during),
            during_p50_ms=_percentile(during, 0.5), during_p95_ms=_percentile(during, 0.95),
            after_requests=len(after), after_p50_ms=_percentile(after, 0.5), after_p95_ms=_percentile(after, 0.95),
            error_examples=sorted({e for e in errors if e})[:5]))
    return results


# -- the run ---------------------------------------------------------------------------------------
@dataclass
class Result:
    posts: int
    pending: int
    clients: int
    workers: int
    seconds: float
    # (a) ingest
    posts_stored: int
    capture_mismatches: int
    crawl_exit_code: int
    crawl_error: str | None
    ingest_seconds: float
    ingest_posts_per_second: float  # over the crawl process's wall time
    ingest_fetch_posts_per_second: float  # first to last request
    crawl_cpu_seconds: float
    crawl_peak_rss_mb: float
    # (b) history
    history: dict[str, Any]
    # classification under load
    classify_exit_code: int
    classified: int  # posts the classifier classified (distinct)
    classifications: int  # rows it wrote
    left_pending: int  # posts still without a classification afterwards
    classify_seconds: float
    classify_posts_per_second: float  # over its wall time: start, model load and all
    classify_steady_posts_per_second: float  # after its first batch was committed
    classify_cpu_seconds: float
    classify_peak_rss_mb: float
    classify_by_severity: dict[str, int]
    # (c) dashboard
    load_seconds: float
    pages: list[PageLoad]
    dashboard_peak_rss_mb: float  # all its processes, summed
    dashboard_cpu_seconds: float
    errors: list[str] = field(default_factory=list)

    @property
    def targets(self) -> dict[str, bool]:
        return {
            "ingest_posts_per_second": self.ingest_posts_per_second >= TARGET_INGEST_POSTS_PER_SECOND,
            "classify_posts_per_second": self.classify_steady_posts_per_second >= TARGET_CLASSIFY_POSTS_PER_SECOND,
            **{f"dashboard_p95_{p.page}": p.p95_met for p in self.pages},
        }

    @property
    def ok(self) -> bool:
        return not self.errors


def classify_figures(settings: Settings, after_id: int) -> dict[str, Any]:
    engine = make_engine(settings.database.url)
    try:
        with session_scope(engine) as session:
            rows, distinct = session.execute(select(func.count(), func.count(func.distinct(Classification.post_id)))
                                             .where(Classification.id > after_id)).one()
            severities = session.execute(select(Classification.severity, func.count())
                                         .where(Classification.id > after_id).group_by(Classification.severity)).all()
            unclassified = session.execute(select(func.count()).select_from(Post).where(
                ~select(Classification.id).where(Classification.post_id == Post.id).exists())).scalar_one()
    finally:
        engine.dispose()
    return {"classifications": int(rows), "classified": int(distinct), "left_pending": int(unclassified),
            "by_severity": {s: int(n) for s, n in sorted(severities)}}


def benchmark(args: argparse.Namespace, workdir: Path) -> tuple[Result, str]:
    log = workdir / "load.log"
    # (a) ingest
    server, base_url = serve_timeline(args.posts)
    try:
        config = ingest.write_config(workdir, base_url, args.posts)
        port = free_port()
        # Alert mails are queued by the classifier as in production; nothing sends them here.
        extend_config(config, dashboard={"host": "127.0.0.1", "port": port, "workers": args.workers},
                      mail={"host": "127.0.0.1", "port": free_port(), "director": DIRECTORS})
        crawl = run_process(crawl_command(config), log)
        stored, _captures, mismatches, crawl_error = ingest.check_store(config)
    finally:
        stop_server(server)
    fetch = (ingest.CLOCK.last - ingest.CLOCK.first) if ingest.CLOCK.first is not None and ingest.CLOCK.last else 0.0
    errors: list[str] = []
    if stored != args.posts or mismatches or crawl.exit_code:
        errors.append(f"ingest: stored {stored} of {args.posts} posts, {mismatches} wrong captures, "
                      f"crawl exit {crawl.exit_code} ({crawl_error or '-'})")
    if not args.json:
        print(f"ingested {stored:,} posts in {crawl.wall_seconds:.1f} s; seeding the history", file=sys.stderr)

    # (b) history, then (c) the load with the classifier
    history = seed_history(config, pending=min(args.pending, stored))
    if not history.case_ids:
        raise SystemExit("no cases were seeded: give more --posts")
    settings = load_settings(config, environ={})
    if not args.json:
        print(f"seeded in {history.seconds:.1f} s; starting the dashboard and the load", file=sys.stderr)
    dashboard = start_server(config, port, workdir / "server.log")
    try:
        samples, classifier, lasted = asyncio.run(run_load(
            f"http://127.0.0.1:{port}", clients=args.clients, seconds=args.seconds, case_ids=history.case_ids,
            classify=classify_command(config), log=log))
        server_figures = proc_figures(dashboard.pid)
    finally:
        dashboard.terminate()
        try:
            dashboard.wait(timeout=15)
        except subprocess.TimeoutExpired:
            dashboard.kill()
    measured = classifier.measured
    assert measured is not None
    steady, _first_batch = classify_rate(settings, after_id=history.last_classification_id)
    classified = classify_figures(settings, history.last_classification_id)
    pages = page_figures(samples, lasted, measured.wall_seconds)
    if measured.exit_code:
        errors.append(f"classify: exit {measured.exit_code}")
    if classified["classified"] != history.pending or classified["classifications"] != history.pending:
        errors.append(f"classify: {classified['classified']} posts ({classified['classifications']} "
                      f"classifications) of {history.pending} pending")
    if classified["left_pending"]:
        errors.append(f"classify: {classified['left_pending']} posts left unclassified")
    for page in pages:
        if page.errors:
            errors.append(f"dashboard {page.page}: {page.errors} errors, e.g. {page.error_examples[0]}")
    history_out = {k: v for k, v in asdict(history).items() if k != "case_ids"}
    result = Result(
        posts=args.posts, pending=history.pending, clients=args.clients, workers=args.workers, seconds=args.seconds,
        posts_stored=stored, capture_mismatches=mismatches, crawl_exit_code=crawl.exit_code, crawl_error=crawl_error,
        ingest_seconds=round(crawl.wall_seconds, 2),
        ingest_posts_per_second=round(stored / crawl.wall_seconds, 1) if crawl.wall_seconds else 0.0,
        ingest_fetch_posts_per_second=round(stored / fetch, 1) if fetch else 0.0,
        crawl_cpu_seconds=round(crawl.cpu_seconds, 2), crawl_peak_rss_mb=round(crawl.peak_rss_mb, 1),
        history=history_out, classify_exit_code=measured.exit_code, classified=classified["classified"],
        classifications=classified["classifications"], left_pending=classified["left_pending"],
        classify_seconds=round(measured.wall_seconds, 2),
        classify_posts_per_second=round(classified["classified"] / measured.wall_seconds, 1),
        classify_steady_posts_per_second=round(steady, 1), classify_cpu_seconds=round(measured.cpu_seconds, 2),
        classify_peak_rss_mb=round(measured.peak_rss_mb, 1), classify_by_severity=classified["by_severity"],
        load_seconds=round(lasted, 2), pages=pages, dashboard_peak_rss_mb=round(server_figures["VmHWM"], 1),
        dashboard_cpu_seconds=round(server_figures["cpu_s"], 1), errors=errors)
    return result, log_tail(log)


# -- the report ------------------------------------------------------------------------------------
def report(r: Result) -> str:
    t = r.targets

    def verdict(key: str) -> str:
        return "met" if t[key] else "MISSED"

    h = r.history
    lines = [
        f"Schoolwacht load test (SQLite): {r.posts:,} posts, {r.pending:,} pending, {r.clients} dashboard clients, "
        f"{r.seconds:g} s",
        "",
        "(a) ingest: one Mastodon crawl (`python -m crawlers.run`)",
        f"  posts stored      {r.posts_stored:>10,} of {r.posts:,}, {r.capture_mismatches} wrong captures, "
        f"exit {r.crawl_exit_code}",
        f"  throughput        {r.ingest_posts_per_second:>10,.1f} posts/s   ({r.ingest_seconds:.1f} s, process start "
        f"to exit; {r.ingest_fetch_posts_per_second:,.0f} posts/s first to last request)   target >= "
        f"{TARGET_INGEST_POSTS_PER_SECOND:,.0f}: {verdict('ingest_posts_per_second')}",
        f"  crawl process     {r.crawl_peak_rss_mb:>10.1f} MB peak RSS, {r.crawl_cpu_seconds:.1f} s CPU",
        "",
        f"(b) history: {h['classified']:,} placeholder classifications ({h['flagged']:,} flagged), {h['cases']:,} "
        f"cases ({h['open_cases']:,} open), {h['events']:,} case events, {h['queue']:,} posts in the review queue; "
        f"{h['pending']:,} posts pending; seeded in {h['seconds']:.1f} s",
        "",
        "classification under load: `schoolwacht classify --pending`, started with the load",
        f"  classified        {r.classified:>10,} posts ({r.classifications:,} classifications), "
        f"{r.left_pending} left pending, exit {r.classify_exit_code}",
        "  severities        " + ", ".join(f"{k} {v:,}" for k, v in r.classify_by_severity.items()),
        f"  throughput        {r.classify_posts_per_second:>10,.1f} posts/s   ({r.classify_seconds:.1f} s, process "
        "start to exit)",
        f"  steady            {r.classify_steady_posts_per_second:>10,.1f} posts/s   (after the first batch: model "
        f"loaded)   target >= {TARGET_CLASSIFY_POSTS_PER_SECOND:,.0f}: {verdict('classify_posts_per_second')}",
        f"  classifier        {r.classify_peak_rss_mb:>10.1f} MB peak RSS, {r.classify_cpu_seconds:.1f} s CPU",
        "",
        f"(c) dashboard: `schoolwacht serve`, {r.workers} worker process(es); {r.clients} clients, a random page "
        f"each request, {r.load_seconds:.1f} s (classifier running for the first {r.classify_seconds:.1f} s)",
        f"{'':<10} {'--- whole load ':-<62} {'classifier running ':-<21} {'after ':-<21}",
        f"{'page':<10} {'requests':>8} {'errors':>6} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
        f"{'max ms':>7}  {'n':>5} {'p50':>7} {'p95':>7}  {'n':>5} {'p50':>7} {'p95':>7}  p95 < {TARGET_P95_MS:g}",
    ]
    for p in r.pages:
        lines.append(f"{p.page:<10} {p.requests:>8} {p.errors:>6} {p.rps:>7.1f} {p.p50_ms:>7.1f} {p.p95_ms:>7.1f} "
                     f"{p.p99_ms:>7.1f} {p.max_ms:>7.1f}  {p.during_requests:>5} {p.during_p50_ms:>7.1f} "
                     f"{p.during_p95_ms:>7.1f}  {p.after_requests:>5} {p.after_p50_ms:>7.1f} {p.after_p95_ms:>7.1f}  "
                     f"{verdict('dashboard_p95_' + p.page)}")
        lines += [f"           error: {e}" for e in p.error_examples]
    lines += [f"  dashboard         {r.dashboard_peak_rss_mb:>10.1f} MB peak RSS (its processes summed), "
              f"{r.dashboard_cpu_seconds:.1f} s CPU"]
    lines += [f"ERROR: {e}" for e in r.errors]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=100_000, help="posts to ingest (default: %(default)s)")
    parser.add_argument("--pending", type=int, default=10_000, help="posts left to classify (default: %(default)s)")
    parser.add_argument("--clients", type=int, default=20, help="dashboard clients (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="load time; longer while the classifier runs (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=2,
                        help="[dashboard] workers of the server (default: %(default)s, one per core here)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--keep", type=Path, default=None, help="work in this directory and keep it")
    args = parser.parse_args(argv)
    if args.posts < 1 or args.pending < 1 or args.pending >= args.posts or args.clients < 1 or args.seconds <= 0:
        parser.error("need --posts > --pending >= 1, --clients >= 1 and --seconds > 0")
    with tempfile.TemporaryDirectory(prefix="sw-bench-load-") as scratch:
        workdir = args.keep or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        result, tail = benchmark(args, workdir)
    if args.json:
        print(json.dumps(plain({**asdict(result), "targets": result.targets, "ok": result.ok}), indent=2))
    else:
        print(report(result))
    if not result.ok and tail:
        print(tail, file=sys.stderr)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
