"""Helpers for dashboard tests: accounts, logging in through the real login form, CSRF tokens."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from dashboard.app import create_app
from store.config import Settings
from store.db import make_engine, session_scope
from store.setup import prepare
from store.users import set_user
from tests.helpers.fixtures import Env

PASSWORD = "correct-horse-battery"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_user(env: Env, email: str, role: str, password: str = PASSWORD, name: str = "") -> int:
    settings = env.settings()
    prepare(settings)
    engine = make_engine(settings.database.url)
    try:
        with session_scope(engine) as session:
            return int(set_user(session, email=email, role=role, password=password, name=name).id)  # type: ignore[arg-type]
    finally:
        engine.dispose()


def client(settings: Settings) -> TestClient:
    prepare(settings)
    return TestClient(create_app(settings))


def csrf(client: TestClient, path: str = "/") -> str:
    """The CSRF token of the form on `path` (a page of the logged-in user)."""
    match = _TOKEN.search(client.get(path).text)
    assert match, f"no csrf_token on {path}"
    return match.group(1)


def login(client: TestClient, email: str, password: str = PASSWORD) -> None:
    token = _TOKEN.search(client.get("/login").text).group(1)  # type: ignore[union-attr]
    response = client.post("/login", data={"email": email, "password": password, "csrf_token": token,
                                           "next": "/"}, follow_redirects=False)
    assert response.status_code == 303, response.text[:500]
