"""Fixtures to write a config, initialise a database and run real crawls."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from sqlmodel import Session

from store.config import Settings, load_settings
from store.db import make_engine, session_scope
from store.migrate import upgrade
from store.sources import sync_config

ROOT = Path(__file__).resolve().parents[2]
SCHOOL = {
    "name": "obs BM Verkruisen",
    "aliases": ["BM Verkruisen", "Verkruisen", "fusieschool Muntendam"],
    "watch_names": [],
    "exclude": ["Verkruisen Transport"],
}


@dataclass
class Env:
    """A configured installation in a temp dir: config file, database, storage."""

    path: Path
    config_file: Path
    database_url: str
    extra_env: dict[str, str]

    def write(self, sources: list[dict[str, Any]], **sections: Any) -> Settings:
        data: dict[str, Any] = {
            "database": {"url": self.database_url},
            "storage": {"dir": str(self.path / "storage")},
            "crawl": {"timeout_seconds": 5, "backoff_seconds": 0.1, "retries": 2,
                      "max_retry_after_seconds": 5},
            "schools": [SCHOOL],
            "sources": [{"school": SCHOOL["name"], "allow_private": True, **s} for s in sources],
        }
        for key, value in sections.items():
            data[key] = {**data.get(key, {}), **value}
        self.config_file.write_text(tomli_w.dumps(data), encoding="utf-8")
        settings = self.settings()
        engine = make_engine(settings.database.url)
        upgrade(engine)
        with session_scope(engine) as session:
            sync_config(session, settings=settings)
        engine.dispose()
        return settings

    def settings(self) -> Settings:
        import os

        return load_settings(self.config_file, environ={**os.environ, **self.extra_env})

    def crawl(self, source: str, *, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run one crawl in the real Scrapy engine, in its own process."""
        import os

        return subprocess.run(
            [sys.executable, "-m", "crawlers.run", source, "--config", str(self.config_file)],
            cwd=ROOT, capture_output=True, text=True, timeout=timeout,
            env={**os.environ, **self.extra_env},
        )

    @contextmanager
    def session(self) -> Iterator[Session]:
        engine = make_engine(self.database_url)
        try:
            with session_scope(engine) as session:
                yield session
        finally:
            engine.dispose()


@pytest.fixture
def env(tmp_path: Path) -> Env:
    """An installation on SQLite."""
    return Env(tmp_path, tmp_path / "schoolwacht.toml", f"sqlite:///{tmp_path / 'sw.db'}", {})


@pytest.fixture
def env_any_db(tmp_path: Path, database_url: str) -> Env:
    """An installation on SQLite and, as a second run, on PostgreSQL."""
    return Env(tmp_path, tmp_path / "schoolwacht.toml", database_url, {})
