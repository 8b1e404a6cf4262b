"""Runs crawls as subprocesses, so that a crash or a hang of one is contained."""

from __future__ import annotations

import subprocess
import sys
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
                      cwd: Path | None = None) -> CrawlResult:
    """Crawl one source in a child process; a hang is killed and recorded as the error."""
    if settings.config_file is None:
        raise ValueError("a crawl subprocess needs settings loaded from a config file")
    command = [sys.executable, "-m", "crawlers.run", name, "--config", str(settings.config_file)]
    limit = timeout if timeout is not None else settings.crawl.process_timeout_seconds
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=limit,
                                   cwd=cwd, env=dict(settings.environ), check=False)
    except subprocess.TimeoutExpired:
        _record(settings, name, f"crawl afgebroken: duurde langer dan {limit:.0f} s")
        return CrawlResult(name, -9, "timeout")
    summary = completed.stdout.strip().splitlines()
    if completed.returncode not in (0, 1, 2):
        # Killed or crashed before it could write its own outcome.
        tail = completed.stderr.strip().splitlines()[-1:] or [f"exit {completed.returncode}"]
        _record(settings, name, f"crawlproces faalde: {tail[0][:300]}")
    output = summary[-1] if summary else completed.stderr.strip()[-300:]
    return CrawlResult(name, completed.returncode, output)


def _record(settings: Settings, name: str, error: str) -> None:
    engine = make_engine(settings.database.url)
    try:
        with session_scope(engine) as session:
            record_crawl_failure(session, name=name, error=error)
    finally:
        engine.dispose()
