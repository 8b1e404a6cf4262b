"""Fault suite fixtures: `services` (real `schoolwacht run` processes) and `pg_cluster` (a
throw-away PostgreSQL cluster); the helpers and invariants live in tests/faults/helpers.py."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.faults.helpers import DIRECTOR, PgCluster, Service, missing, pg_bin
from tests.helpers.fixtures import Env
from tests.helpers.smtp import free_port
from tests.helpers.web import make_user


@pytest.fixture
def services() -> Iterator[Callable[..., Service]]:
    """`start(env, name)` runs a `schoolwacht run`; every one still running is stopped after the test."""
    started: list[Service] = []
    with_user: set[Path] = set()

    def start(env: Env, name: str = "service") -> Service:
        if env.config_file not in with_user:
            make_user(env, DIRECTOR, "director")
            with_user.add(env.config_file)
        service = Service(env, name).start()
        started.append(service)
        return service

    yield start
    for service in started:
        service.stop()


@pytest.fixture
def pg_cluster(tmp_path: Path) -> Iterator[PgCluster]:
    """A PostgreSQL cluster of its own (trust auth, 127.0.0.1 only, a free port), removed after."""
    bin_dir = pg_bin()
    if bin_dir is None:
        missing("no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin")
    run_as: list[str] = []
    if os.geteuid() == 0:
        # initdb and postgres refuse to run as root: run them as the `postgres` account, in a
        # directory it owns (root's pytest tmp_path is not readable by other users).
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            missing("running as root and there is no `postgres` account to run a throw-away cluster")
        if shutil.which("runuser") is None:
            missing("running as root and `runuser` is missing")
        base = Path(tempfile.mkdtemp(prefix="sw-faults-pg-"))
        os.chown(base, account.pw_uid, account.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    else:
        base = tmp_path / "pg"
        base.mkdir()
    cluster = PgCluster(bin=bin_dir, data=base / "data", port=free_port(), run_as=run_as)
    try:
        cluster._run(str(bin_dir / "initdb"), "-D", str(cluster.data), "-A", "trust", "-U", "postgres",
                     "-E", "UTF8", "--no-sync", "--locale=C.UTF-8")
        cluster.ctl("start")
        yield cluster
    finally:
        if (cluster.data / "postmaster.pid").exists():
            subprocess.run([*run_as, str(bin_dir / "pg_ctl"), "-D", str(cluster.data), "-m", "immediate",
                            "-w", "stop"], capture_output=True, check=False, timeout=60)
        shutil.rmtree(base, ignore_errors=True)
