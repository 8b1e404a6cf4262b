"""What the fake server saw: request counts and arrival times, for server-side assertions."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

from sqlalchemy import select

from store.models import Capture, Post, Source
from tests.helpers.fixtures import Env


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def request_log(mockserver: str, key: str) -> list[tuple[float, str]]:
    """(arrival time, path?query) of every request to `platform/scenario`, oldest first."""
    log: dict[str, list[list[Any]]] = _get(f"{mockserver}/_times/log")
    return [(float(t), str(path)) for t, path in log.get(key, [])]


def paths(mockserver: str, key: str) -> list[str]:
    return [path for _, path in request_log(mockserver, key)]


def source_row(env: Env, name: str) -> Source:
    with env.session() as session:
        return session.execute(select(Source).where(Source.name == name)).scalar_one()


def posts_of(env: Env, name: str | None = None) -> list[Post]:
    with env.session() as session:
        statement = select(Post).order_by(Post.id)
        if name is not None:
            statement = statement.join(Source, Source.id == Post.source_id).where(
                Source.name == name)
        return list(session.execute(statement).scalars())


def captures(env: Env) -> list[Capture]:
    with env.session() as session:
        return list(session.execute(select(Capture).order_by(Capture.id)).scalars())


def capture_files(env: Env) -> list[Path]:
    """Capture files on disk (temporary files of an interrupted write excluded)."""
    root = env.path / "storage" / "captures"
    if not root.exists():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".tmp-"))
