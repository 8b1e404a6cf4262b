"""The scheduler behind `schoolwacht run` (DESIGN.md, flow step 6).

APScheduler 3 runs the jobs; they are persisted in the same database (SQLAlchemy job store),
so a restart keeps each job's next run time and a job missed while the service was down runs
once afterwards (coalesced). The jobs:

- `crawl:<source>`  each enabled source on its interval, as a subprocess with a timeout;
- `classify`        classify pending posts (opens cases and queues the immediate alerts);
- `outbox`          send the queued e-mail (retries with back-off live in the outbox rows);
- `digest`          the weekly digest (default Monday 07:30 Europe/Amsterdam);
- `recheck`         daily: are flagged posts still online?
- `evidence`        every few minutes: a screenshot (or rendering) of each new criminal/urgent post;
- `retention`       daily: delete what is kept longer than the retention settings allow.

Two guards keep a job from running twice. Inside a process APScheduler never overlaps a job
with itself (`max_instances=1`). Across processes only the holder of the database lease
`scheduler` runs jobs at all; another `schoolwacht run` on the same database waits as a
standby and takes over when the holder stops renewing. Each run also takes the lease of its
own job (`job:<id>`), which keeps the CLI (`schoolwacht crawl`, `alerts flush`) from running
the same work at the same moment. Mail is de-duplicated in the outbox on top of that.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from store import leases
from store.config import Settings
from store.db import make_engine
from store.setup import prepare
from store.types import utcnow

logger = logging.getLogger("schoolwacht.scheduler")

SCHEDULER_LEASE = "scheduler"
JOB_TABLE = "apscheduler_jobs"


@dataclass
class Runtime:
    """What the job functions need; set by `Service` (jobs in the store hold only their id)."""

    settings: Settings
    engine: Engine
    stop: threading.Event
    classifier: Any = None
    on_job: Callable[[str, str], None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


_runtime: Runtime | None = None


def _context() -> Runtime:
    if _runtime is None:
        raise RuntimeError("scheduler jobs run only inside a running Service")
    return _runtime


def _guarded(job_id: str, seconds: float, work: Callable[[Runtime], str]) -> None:
    """Run `work` under the job's lease; log its outcome; never let an error reach APScheduler."""
    rt = _context()
    if rt.stop.is_set():
        return
    try:
        with leases.held(rt.engine, f"job:{job_id}", seconds) as mine:
            if not mine:
                logger.info("%s: skipped, another process is running it", job_id)
                outcome = "skipped"
            else:
                outcome = work(rt)
                logger.info("%s: %s", job_id, outcome)
    except Exception as exc:  # a failing job is logged and retried on its next run
        logger.exception("%s failed: %s", job_id, exc)
        outcome = f"error: {exc}"
    if rt.on_job is not None:
        rt.on_job(job_id, outcome)



# -- the jobs (module-level functions: the job store refers to them by name) --------------------
def crawl_job(source: str) -> None:
    from crawlers.process import run_crawl_process

    def work(rt: Runtime) -> str:
        from store.db import session_scope
        from store.sources import get_source

        with session_scope(rt.engine) as session:
            if not get_source(session, name=source).enabled:  # switched off on the dashboard
                return "skipped: source switched off on the dashboard"
        result = run_crawl_process(rt.settings, source, stop=rt.stop)
        return f"exit {result.returncode}: {result.output}"

    rt = _context()
    _guarded(f"crawl:{source}", rt.settings.crawl.process_timeout_seconds + 60, work)


def classify_job() -> None:
    from classifier import load_classifier
    from classifier.service import classify_pending

    def work(rt: Runtime) -> str:
        with rt.lock:  # one model per process, loaded on first use
            if rt.classifier is None:
                c = rt.settings.classifier
                rt.classifier = load_classifier(c.model, batch_size=c.batch_size, allow_download=c.allow_download)
        stats = classify_pending(rt.settings, classifier=rt.classifier)
        return f"classified {stats.classified} {stats.by_severity}"

    _guarded("classify", _context().settings.schedule.lease_seconds, work)


def outbox_job() -> None:
    from alerts.outbox import flush

    def work(rt: Runtime) -> str:
        # flush takes the outbox lease itself (the CLI calls it too).
        report = flush(rt.settings)
        return f"sent {report.sent}, retry {report.retried}, failed {report.failed}"

    rt = _context()
    if not rt.stop.is_set():
        try:
            outcome = work(rt)
            logger.info("outbox: %s", outcome)
        except Exception as exc:
            logger.exception("outbox failed: %s", exc)
            outcome = f"error: {exc}"
        if rt.on_job is not None:
            rt.on_job("outbox", outcome)


def digest_job() -> None:
    from alerts.digest import queue_digest
    from store.db import session_scope

    def work(rt: Runtime) -> str:
        with session_scope(rt.engine) as session:
            queued = queue_digest(session, rt.settings)
        return f"queued {queued} digest mail(s)"

    _guarded("digest", _context().settings.schedule.lease_seconds, work)
    outbox_job()  # send it now rather than at the next outbox run


def recheck_job() -> None:
    from crawlers.recheck import recheck_flagged

    def work(rt: Runtime) -> str:
        report = recheck_flagged(rt.settings)
        return f"checked {report.checked}, removed {report.removed}, errors {report.errors}"

    _guarded("recheck", _context().settings.schedule.lease_seconds * 4, work)


def retention_job() -> None:
    from store.retention import apply_retention

    def work(rt: Runtime) -> str:
        report = apply_retention(rt.settings)
        return f"deleted {report.posts} posts, {report.captures} captures, {report.files} files"

    _guarded("retention", _context().settings.schedule.lease_seconds * 4, work)


def evidence_job() -> None:
    from evidence.capture import capture_pending

    def work(rt: Runtime) -> str:
        report = capture_pending(rt.settings, engine=rt.engine)
        return f"screenshots {report.screenshots}, renderings {report.renderings}, failed {report.failed}"

    conf = _context().settings.evidence
    # Each post may take the whole page timeout; the lease outlives the longest run.
    _guarded("evidence", conf.max_per_run * (conf.screenshot_timeout_seconds + 15) + 60, work)


# -- the job table ------------------------------------------------------------------------------
@dataclass(frozen=True)
class JobSpec:
    id: str
    func: str
    trigger: BaseTrigger
    args: tuple[str, ...] = ()
    misfire_grace_seconds: int = 60
    first_run_now: bool = False


def _clock(value: str) -> tuple[int, int]:
    hour, minute = value.split(":")
    return int(hour), int(minute)


def job_specs(settings: Settings) -> list[JobSpec]:
    """The jobs this configuration asks for."""
    schedule = settings.schedule
    zone = schedule.timezone
    specs = [
        JobSpec(f"crawl:{s.name}", "scheduler:crawl_job", IntervalTrigger(minutes=s.interval_minutes),
                (s.name,), misfire_grace_seconds=s.interval_minutes * 60, first_run_now=True)
        for s in settings.sources if s.enabled and s.kind != "manual"
    ]
    hour, minute = _clock(schedule.digest_time)
    recheck_hour, recheck_minute = _clock(schedule.recheck_time)
    retention_hour, retention_minute = _clock(schedule.retention_time)
    specs += [
        JobSpec("classify", "scheduler:classify_job", IntervalTrigger(seconds=schedule.classify_every_seconds),
                misfire_grace_seconds=schedule.classify_every_seconds, first_run_now=True),
        JobSpec("outbox", "scheduler:outbox_job", IntervalTrigger(seconds=schedule.outbox_every_seconds),
                misfire_grace_seconds=schedule.outbox_every_seconds, first_run_now=True),
        # A digest missed while the service was down goes out once when it is back, within six days.
        JobSpec("digest", "scheduler:digest_job",
                CronTrigger(day_of_week=schedule.digest_day, hour=hour, minute=minute, timezone=zone),
                misfire_grace_seconds=6 * 24 * 3600),
        JobSpec("recheck", "scheduler:recheck_job",
                CronTrigger(hour=recheck_hour, minute=recheck_minute, timezone=zone),
                misfire_grace_seconds=20 * 3600),
        JobSpec("evidence", "scheduler:evidence_job", IntervalTrigger(seconds=settings.evidence.every_seconds),
                misfire_grace_seconds=settings.evidence.every_seconds, first_run_now=True),
        JobSpec("retention", "scheduler:retention_job",
                CronTrigger(hour=retention_hour, minute=retention_minute, timezone=zone),
                misfire_grace_seconds=20 * 3600),
    ]
    return specs


def sync_jobs(scheduler: BackgroundScheduler, specs: list[JobSpec]) -> None:
    """Make the stored jobs match the specs without losing a stored next run time.

    Re-adding a job with `replace_existing` would recompute its next run from now and so skip
    a digest that was missed while the service was down; an unchanged job is left alone.
    """
    wanted = {spec.id: spec for spec in specs}
    for job in scheduler.get_jobs():
        if job.id not in wanted:
            logger.info("job %s: no longer configured, removed", job.id)
            job.remove()
    for spec in specs:
        job = scheduler.get_job(spec.id)
        options: dict[str, Any] = {"coalesce": True, "max_instances": 1,
                                   "misfire_grace_time": spec.misfire_grace_seconds}
        if job is None:
            if spec.first_run_now:
                options["next_run_time"] = utcnow()
            scheduler.add_job(spec.func, spec.trigger, args=spec.args, id=spec.id, name=spec.id, **options)
        elif str(job.trigger) != str(spec.trigger) or job.func_ref != spec.func or tuple(job.args) != spec.args:
            logger.info("job %s: schedule changed to %s", spec.id, spec.trigger)
            job.modify(func=spec.func, args=spec.args, **options)
            job.reschedule(spec.trigger)
        elif job.misfire_grace_time != spec.misfire_grace_seconds:
            job.modify(**options)


def stop_scheduler(scheduler: BackgroundScheduler, *, wait: bool = True) -> None:
    """Shut APScheduler down without losing a due run.

    APScheduler 3 wakes its loop once more on shutdown and processes due jobs although it can
    no longer run them; it then moves their next run time on, so a digest that was due would
    be skipped for good. Detaching the job store first leaves that last pass nothing to touch.
    """
    scheduler.pause()
    scheduler.remove_jobstore("default", shutdown=False)
    scheduler.shutdown(wait=wait)


# -- the service --------------------------------------------------------------------------------
class Service:
    """Leader election plus the APScheduler instance; `run()` blocks until `stop` is set."""

    def __init__(self, settings: Settings, *, stop: threading.Event | None = None,
                 on_job: Callable[[str, str], None] | None = None, workers: int = 4) -> None:
        self.settings = settings
        self.stop = stop or threading.Event()
        self.engine = make_engine(settings.database.url)
        self.on_job = on_job
        self.workers = workers
        self.scheduler: BackgroundScheduler | None = None
        self.leader = False
        self._announced_standby = False

    def _new_scheduler(self) -> BackgroundScheduler:
        store = SQLAlchemyJobStore(engine=self.engine, tablename=JOB_TABLE)
        return BackgroundScheduler(jobstores={"default": store},
                                   executors={"default": ThreadPoolExecutor(self.workers)},
                                   timezone=self.settings.schedule.timezone)

    def _lead(self) -> None:
        global _runtime
        _runtime = Runtime(self.settings, self.engine, self.stop, on_job=self.on_job)
        self.scheduler = self._new_scheduler()
        self.scheduler.start(paused=True)
        sync_jobs(self.scheduler, job_specs(self.settings))
        self.scheduler.resume()
        self.leader = True
        logger.info("scheduler running (%d jobs)", len(self.scheduler.get_jobs()))

    def _step_down(self, wait: bool) -> None:
        if self.scheduler is not None:
            stop_scheduler(self.scheduler, wait=wait)
            self.scheduler = None
        if self.leader:
            leases.release(self.engine, SCHEDULER_LEASE)
        self.leader = False

    def run(self) -> None:
        prepare(self.settings)
        ttl = self.settings.schedule.lease_seconds
        beat = max(1.0, ttl / 3)
        try:
            while not self.stop.is_set():
                try:
                    mine = leases.acquire(self.engine, SCHEDULER_LEASE, ttl)
                except SQLAlchemyError as exc:
                    # The database is away (a restart): keep the current role and try again; the
                    # jobs fail and retry on their own meanwhile.
                    logger.warning("scheduler lease: database unreachable, retrying: %s",
                                   (str(exc).strip().splitlines() or [type(exc).__name__])[0])
                    self.stop.wait(beat)
                    continue
                if mine:
                    if not self.leader:
                        self._lead()
                elif self.leader:
                    logger.error("lost the scheduler lease to another process: standing by")
                    self._step_down(wait=False)
                elif not self._announced_standby:
                    self._announced_standby = True
                    logger.info("another process runs the scheduler on this database: standing by")
                self.stop.wait(beat)
        finally:
            # Running crawls see `stop` and terminate their child; wait for the jobs to end.
            self._step_down(wait=True)
            self.engine.dispose()
            logger.info("scheduler stopped")


def install_signal_handlers(stop: threading.Event) -> None:
    """SIGTERM and SIGINT stop the service cleanly (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        return

    def _stop(signum: int, _frame: FrameType | None) -> None:
        logger.info("signal %s: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)


def run_service(settings: Settings, *, stop: threading.Event | None = None,
                on_job: Callable[[str, str], None] | None = None) -> None:
    stop = stop or threading.Event()
    install_signal_handlers(stop)
    Service(settings, stop=stop, on_job=on_job).run()


def next_runs(settings: Settings) -> dict[str, str]:
    """The stored next run time of each job (for `schoolwacht sources` and the dashboard)."""
    engine = make_engine(settings.database.url)
    try:
        store = SQLAlchemyJobStore(engine=engine, tablename=JOB_TABLE)
        store.start(None, "default")  # type: ignore[arg-type]
        return {job.id: job.next_run_time.isoformat() if job.next_run_time else "gepauzeerd"
                for job in store.get_all_jobs()}
    except Exception:  # no job table yet: the scheduler never ran
        return {}
    finally:
        engine.dispose()
