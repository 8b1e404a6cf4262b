"""Fixtures of the security suite. `site` is an installation served in-process (TestClient);
`live` (from the end-to-end suite) is the dashboard on a real port, for raw HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import live  # noqa: F401  (the fixture, for raw HTTP against uvicorn)
from tests.helpers.fixtures import Env
from tests.security.helpers import Canary, Site, build_site


@pytest.fixture
def site(env: Env) -> Site:
    return build_site(env)


@pytest.fixture
def canary() -> Iterator[Canary]:
    server = Canary()
    yield server
    server.close()
