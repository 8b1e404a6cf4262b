"""The service loop behind `schoolwacht run`: crawls each enabled source on its interval.

Each crawl is a subprocess (`crawlers.process`), so a crash or hang of one is contained and
killed after `crawl.process_timeout_seconds`. SIGTERM/SIGINT stop the loop between crawls.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType

from crawlers.process import run_crawl_process
from store.config import Settings
from store.setup import prepare

logger = logging.getLogger("schoolwacht.scheduler")


def due_sources(settings: Settings, last_started: dict[str, float], now: float) -> list[str]:
    """Enabled, crawlable sources whose interval has passed since their last start."""
    due = []
    for source in settings.sources:
        if not source.enabled or source.kind == "manual":
            continue
        started = last_started.get(source.name)
        if started is None or now - started >= source.interval_minutes * 60:
            due.append(source.name)
    return due


def run_service(settings: Settings, *, stop: threading.Event | None = None,
                poll_seconds: float = 5.0,
                on_crawl: Callable[[str, int, str], None] | None = None) -> None:
    """Crawl due sources until `stop` is set (or SIGTERM/SIGINT arrives)."""
    stop = stop or threading.Event()
    prepare(settings)
    if threading.current_thread() is threading.main_thread():
        def _stop(signum: int, _frame: FrameType | None) -> None:
            logger.info("signal %s: stopping after the current crawl", signum)
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
    last_started: dict[str, float] = {}
    while not stop.is_set():
        for name in due_sources(settings, last_started, time.monotonic()):
            if stop.is_set():
                break
            last_started[name] = time.monotonic()
            result = run_crawl_process(settings, name)
            logger.info("crawl %s: %s", name, result.output)
            if on_crawl is not None:
                on_crawl(name, result.returncode, result.output)
        stop.wait(poll_seconds)
