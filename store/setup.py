"""Bringing an installation up to date: schema, config sync, storage directory."""

from __future__ import annotations

from store.config import Settings
from store.db import make_engine, session_scope
from store.migrate import current_revision, upgrade
from store.sources import sync_config


def prepare(settings: Settings) -> str | None:
    """Migrate the database, sync schools/sources from the config; returns the revision."""
    settings.storage.dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database.url)
    try:
        upgrade(engine)
        with session_scope(engine) as session:
            sync_config(session, settings=settings)
        return current_revision(engine)
    finally:
        engine.dispose()
