"""Runs crawls as subprocesses, so that a crash or a hang of one is contained."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from store.config import Settings
from store.db import make_engine, session_scope
from store.sources import record_crawl_failure


@dataclass(frozen=True)
class CrawlResult:
    source: str
    returncode: int
    output: str


def run_crawl_process(settings: Settings, name: str, *, timeout: float | None = None,
                      cwd: Path | None = None, stop: threading.Event | None = None) -> CrawlResult:
    """Crawl one source in a child process; a hang is killed and recorded as the error.

    When `stop` is set (the service shuts down) the child gets SIGTERM, then SIGKILL: what it
    stored stays stored, and its cursor only moves after its posts are in (crawlers.run).
    """
    if settings.config_file is None:
        raise ValueError("a crawl subprocess needs settings loaded from a config file")
    command = [sys.executable, "-m", "crawlers.run", name, "--config", str(settings.config_file)]
    limit = timeout if timeout is not None else settings.crawl.process_timeout_seconds
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             cwd=cwd, env=dict(settings.environ))
    deadline = time.monotonic() + limit
    stopped = False
    while True:
        try:
            stdout, stderr = child.communicate(timeout=0.5)
            break
        except subprocess.TimeoutExpired:
            if stop is not None and stop.is_set() and not stopped:
                stopped = True
                child.terminate()
                deadline = min(deadline, time.monotonic() + 10)
            elif time.monotonic() >= deadline:
                child.kill()
                child.communicate()
                if stopped:
                    return CrawlResult(name, -15, "stopped")
                _record(settings, name, f"crawl afgebroken: duurde langer dan {limit:.0f} s")
                return CrawlResult(name, -9, "timeout")
    if stopped:
        return CrawlResult(name, child.returncode, "stopped")
    summary = stdout.strip().splitlines()
    if child.returncode not in (0, 1, 2):
        # Killed or crashed before it could write its own outcome. A killed child's last
        # stderr line is whatever Scrapy logged last: name the signal instead.
        if child.returncode < 0:
            reason = f"afgebroken door signaal {_signal_name(-child.returncode)}"
        else:
            reason = (stderr.strip().splitlines()[-1:] or [f"exit {child.returncode}"])[0][:300]
        _record(settings, name, f"crawlproces faalde: {reason}")
    output = summary[-1] if summary else stderr.strip()[-300:]
    return CrawlResult(name, child.returncode, output)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def _record(settings: Settings, name: str, error: str) -> None:
    engine = make_engine(settings.database.url)
    try:
        with session_scope(engine) as session:
            record_crawl_failure(session, name=name, error=error)
    finally:
        engine.dispose()
