"""Backup of a running installation: the database and the storage dir in one `.tar.gz`.

`create_backup` makes a consistent copy while the service keeps running:

1. the database first, as one transactionally consistent snapshot: SQLite through the online
   backup API (never a plain copy of a live WAL database, which can miss the commits still in
   the `-wal` file), PostgreSQL through `pg_dump --format=custom --snapshot=...` inside a
   REPEATABLE READ transaction, so the row counts and capture paths recorded in the manifest
   come from exactly the snapshot that was dumped;
2. then the storage dir. Capture files are written (and fsynced) before the row that refers to
   them commits, and never change afterwards (content-addressed, `store.files`), so every file
   the snapshot refers to is on disk by now. Retention could still delete one in between: the
   backup holds the `job:retention` lease meanwhile, and anything missing anyway is named in
   the manifest (`missing_captures`) instead of being silently absent. Files whose names start
   with "." are writes in progress (`.tmp-*`) and are left out;
3. `manifest.json` (format, time, version, schema revision, row counts, every file with its
   SHA-256) and `SHA256SUMS` (for `sha256sum -c` by hand) go last.

The archive is written under a temporary name beside the target and renamed when complete
(mode 0600: it holds personal data); an existing file is never overwritten.

Restoring is `store.restore.restore_backup`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import create_engine, func, inspect, select, text, update
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from schoolwacht.errors import StorageError
from store.config import Settings
from store.db import SQLITE_BUSY_TIMEOUT_MS, make_engine
from store.models import AuditEntry, Capture, Case, CaseEvent, Classification, Lease, Outbox, Post, User
from store.types import utcnow

FORMAT = "schoolwacht-backup/1"
MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
SQLITE_MEMBER = "database/schoolwacht.db"
PG_MEMBER = "database/schoolwacht.pgdump"
CONFIG_MEMBER = "config/schoolwacht.toml"
STORAGE_PREFIX = "storage/"
RETENTION_LEASE = "job:retention"
# How long the backup keeps retention away at most (a killed backup frees it after this).
RETENTION_LEASE_SECONDS = 6 * 3600
_COUNTED = {"posts": Post, "captures": Capture, "classifications": Classification, "cases": Case,
            "case_events": CaseEvent, "audit_entries": AuditEntry, "users": User, "outbox": Outbox}


@dataclass(frozen=True)
class BackupResult:
    path: Path
    sha256: str  # of the archive itself
    size: int
    files: int  # members listed in the manifest (database, config, storage files)
    backend: str  # sqlite | postgresql
    revision: str | None
    counts: dict[str, int]
    missing_captures: list[str] = field(default_factory=list)


@dataclass
class _Snapshot:
    file: Path
    member: str
    backend: str
    revision: str | None
    counts: dict[str, int]
    capture_paths: set[str]


# -- queries on a snapshot (also used by the restore to compare) ---------------------------------

def count_rows(connection: Connection) -> dict[str, int]:
    """Rows per table that matters to people: posts, cases, audit entries, ..."""
    tables = set(inspect(connection).get_table_names())
    return {key: int(connection.execute(select(func.count()).select_from(model)).scalar_one())
            for key, model in _COUNTED.items() if model.__tablename__ in tables}  # type: ignore[attr-defined]


def capture_paths(connection: Connection) -> set[str]:
    if "capture" not in set(inspect(connection).get_table_names()):
        return set()
    return set(connection.execute(select(Capture.path).distinct()).scalars())


def schema_revision(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def expire_leases(connection: Connection, *, now: datetime | None = None, holder: str | None = None) -> None:
    """End leases now without touching `last_finished_at` (that records real job runs)."""
    now = now or utcnow()
    statement = update(Lease).where(Lease.expires_at > now)  # type: ignore[arg-type]
    if holder is not None:
        statement = statement.where(Lease.holder == holder)  # type: ignore[arg-type]
    connection.execute(statement.values(expires_at=now))


def libpq_target(url: str) -> tuple[str, dict[str, str] | None]:
    """A libpq URI for pg_dump/pg_restore, and an environment carrying the password (never argv)."""
    parsed = make_url(url)
    uri = parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    if parsed.password is None:
        return uri, None
    return uri, {**os.environ, "PGPASSWORD": str(parsed.password)}


def run_pg_tool(args: list[str], env: dict[str, str] | None, what: str) -> None:
    tool = shutil.which(args[0])
    if tool is None:
        raise StorageError(f"{args[0]} niet gevonden op PATH: installeer de PostgreSQL-clientprogramma's "
                           f"(apt install postgresql-client, dezelfde hoofdversie als de server)")
    result = subprocess.run([tool, *args[1:]], capture_output=True, text=True, env=env)
    if result.returncode != 0:
        reason = " ".join(result.stderr.split())[-500:] or f"exit {result.returncode}"
        raise StorageError(f"{what} mislukt: {reason}")


# -- the database snapshot -----------------------------------------------------------------------

def _sqlite_file(url: str) -> Path:
    parsed = make_url(url)
    if not parsed.database or parsed.database == ":memory:":
        raise StorageError("een SQLite-database in het geheugen heeft geen back-up")
    path = Path(parsed.database)
    if not path.is_file():
        raise StorageError(f"databasebestand {path} bestaat niet")
    return path


def _snapshot_sqlite(url: str, staging: Path) -> _Snapshot:
    source_file = _sqlite_file(url)
    target = staging / "schoolwacht.db"
    source = sqlite3.connect(str(source_file), timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
    try:
        copy = sqlite3.connect(str(target))
        try:
            source.backup(copy)  # all pages in one step: one read transaction, one consistent state
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
            integrity = copy.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            copy.close()
    except sqlite3.Error as exc:
        raise StorageError(f"kopie van {source_file} mislukt: {exc}") from None
    finally:
        source.close()
    if integrity != "ok":
        raise StorageError(f"de kopie van {source_file} is beschadigd (integrity_check: {integrity})")
    engine = create_engine(f"sqlite:///{target}", poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return _Snapshot(target, SQLITE_MEMBER, "sqlite", schema_revision(connection), count_rows(connection),
                             capture_paths(connection))
    finally:
        engine.dispose()


def _snapshot_postgres(url: str, staging: Path) -> _Snapshot:
    target = staging / "schoolwacht.pgdump"
    uri, env = libpq_target(url)
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                # pg_dump reads the snapshot this transaction exported: the counts below and the
                # dump see the same rows, however busy the service is meanwhile.
                snapshot_id = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
                snapshot = _Snapshot(target, PG_MEMBER, "postgresql", schema_revision(connection),
                                     count_rows(connection), capture_paths(connection))
                run_pg_tool(["pg_dump", "--format=custom", "--no-password", f"--snapshot={snapshot_id}",
                             f"--file={target}", f"--dbname={uri}"], env, "pg_dump")
        return snapshot
    finally:
        engine.dispose()


@contextmanager
def _retention_paused(engine: Engine, wait_seconds: float) -> Iterator[None]:
    """Hold the retention job's lease, so it deletes no capture file while the files are copied."""
    from store import leases

    holder = f"{leases.HOLDER}:backup"
    deadline = time.monotonic() + wait_seconds
    while not leases.acquire(engine, RETENTION_LEASE, RETENTION_LEASE_SECONDS, holder=holder):
        if time.monotonic() >= deadline:
            raise StorageError("de bewaartermijn-opruiming (retention) loopt nu; probeer de back-up over een paar "
                               "minuten opnieuw")
        time.sleep(1.0)
    try:
        yield
    finally:
        with engine.begin() as connection:
            expire_leases(connection, holder=holder)


# -- the archive ---------------------------------------------------------------------------------

class _HashingReader:
    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.digest.update(data)
        return data


class _HashingWriter(io.RawIOBase):
    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = bytes(data)
        self.handle.write(view)
        self.digest.update(view)
        self.size += len(view)
        return len(view)


def _member(name: str, size: int, mtime: float) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, int(mtime), 0o600
    return info


class _Writer:
    """Adds members to the tar and records each one's SHA-256 for the manifest."""

    def __init__(self, tar: tarfile.TarFile) -> None:
        self.tar = tar
        self.files: list[dict[str, Any]] = []

    def add_file(self, name: str, path: Path) -> bool:
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            return False  # deleted since the directory was listed
        with handle:
            stat = os.fstat(handle.fileno())
            reader = _HashingReader(handle)
            try:
                self.tar.addfile(_member(name, stat.st_size, stat.st_mtime), reader)  # type: ignore[arg-type]
            except OSError as exc:
                raise StorageError(f"{path} veranderde tijdens de back-up: {exc}") from None
        self.files.append({"path": name, "sha256": reader.digest.hexdigest(), "size": stat.st_size})
        return True

    def add_bytes(self, name: str, data: bytes, *, listed: bool = True) -> None:
        self.tar.addfile(_member(name, len(data), time.time()), io.BytesIO(data))
        if listed:
            self.files.append({"path": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)})


def _storage_files(root: Path) -> Iterator[tuple[Path, str]]:
    for directory, subdirs, names in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        for name in sorted(names):
            path = Path(directory) / name
            if name.startswith(".") or path.is_symlink() or not path.is_file():
                continue  # writes in progress (.tmp-*), probes, anything that is not a plain file
            yield path, path.relative_to(root).as_posix()


def target_path(out: Path, now: datetime) -> Path:
    """`out` itself, or a dated file name inside it when it is a directory."""
    target = out / f"schoolwacht-backup-{now:%Y%m%d-%H%M%S}.tar.gz" if out.is_dir() else out
    if target.exists():
        raise StorageError(f"{target} bestaat al; een back-up wordt nooit overschreven")
    if not target.parent.is_dir():
        raise StorageError(f"map {target.parent} bestaat niet")
    return target


def _write_archive(handle: IO[bytes], settings: Settings, snapshot: _Snapshot, now: datetime
                   ) -> tuple[list[dict[str, Any]], list[str]]:
    from schoolwacht import __version__

    with tarfile.open(fileobj=handle, mode="w:gz", compresslevel=6) as tar:
        writer = _Writer(tar)
        writer.add_file(snapshot.member, snapshot.file)
        config_file = settings.config_file
        if config_file is not None and config_file.is_file():
            writer.add_bytes(CONFIG_MEMBER, config_file.read_bytes())
        storage = settings.storage.dir
        stored: set[str] = set()
        if storage.is_dir():
            for path, relative in _storage_files(storage):
                if writer.add_file(STORAGE_PREFIX + relative, path):
                    stored.add(relative)
        missing = sorted(snapshot.capture_paths - stored)
        manifest = {
            "format": FORMAT,
            "created_at": now.isoformat(timespec="seconds"),
            "schoolwacht_version": __version__,
            "database": {"backend": snapshot.backend, "file": snapshot.member, "revision": snapshot.revision,
                         "url": make_url(settings.database.url).render_as_string(hide_password=True)},
            "storage_dir": str(storage.resolve()),
            "config": CONFIG_MEMBER if any(f["path"] == CONFIG_MEMBER for f in writer.files) else None,
            "counts": snapshot.counts,
            "missing_captures": missing,
            "files": writer.files,
        }
        sums = "".join(f"{f['sha256']}  {f['path']}\n" for f in writer.files)
        writer.add_bytes(SUMS, sums.encode("utf-8"), listed=False)
        writer.add_bytes(MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False).encode("utf-8"), listed=False)
    return writer.files, missing


def create_backup(settings: Settings, *, out: Path, now: datetime | None = None,
                  retention_wait_seconds: float = 120) -> BackupResult:
    """`schoolwacht backup --out FILE.tar.gz` (or a directory): database + storage dir + manifest."""
    try:
        return _create_backup(settings, out=out, now=now or utcnow(), retention_wait_seconds=retention_wait_seconds)
    except SQLAlchemyError as exc:
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())[:300]
        raise StorageError(f"database {make_url(settings.database.url).render_as_string(hide_password=True)}: "
                           f"{reason}") from None


def _create_backup(settings: Settings, *, out: Path, now: datetime, retention_wait_seconds: float) -> BackupResult:
    target = target_path(out, now)
    backend = make_url(settings.database.url).get_backend_name()
    if backend == "sqlite":
        _sqlite_file(settings.database.url)  # a clear error before anything else
    engine = make_engine(settings.database.url)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".tmp-backup-", suffix=".tar.gz")
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, 0o600)
        with _retention_paused(engine, retention_wait_seconds), tempfile.TemporaryDirectory(
                prefix="schoolwacht-backup-") as staging:
            snapshot = (_snapshot_sqlite if backend == "sqlite" else _snapshot_postgres)(
                settings.database.url, Path(staging))
            with os.fdopen(fd, "wb") as raw:
                fd = -1
                hashing = _HashingWriter(raw)
                files, missing = _write_archive(hashing, settings, snapshot, now)  # type: ignore[arg-type]
                raw.flush()
                os.fsync(raw.fileno())
        if target.exists():
            raise StorageError(f"{target} bestaat al; een back-up wordt nooit overschreven")
        os.replace(tmp, target)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    finally:
        engine.dispose()
    try:
        _record(settings, target, hashing.digest.hexdigest(), snapshot)
    except BaseException:
        target.unlink(missing_ok=True)  # as with evidence bundles: no copy of everything that nobody recorded
        raise
    return BackupResult(target, hashing.digest.hexdigest(), hashing.size, len(files), snapshot.backend,
                        snapshot.revision, snapshot.counts, missing)


def _record(settings: Settings, target: Path, sha256: str, snapshot: _Snapshot) -> None:
    """The audit log keeps who copied all the personal data, and where to."""
    from store import audit
    from store.db import session_scope

    engine = make_engine(settings.database.url)
    try:
        with session_scope(engine) as session:
            audit.record(session, actor="cli", action="backup_created", object_type="backup",
                         object_id=target.name[:64],
                         detail={"path": str(target.resolve()), "sha256": sha256, "counts": snapshot.counts})
    finally:
        engine.dispose()


__all__ = ["CONFIG_MEMBER", "FORMAT", "MANIFEST", "PG_MEMBER", "SQLITE_MEMBER", "STORAGE_PREFIX", "SUMS",
           "BackupResult", "capture_paths", "count_rows", "create_backup", "expire_leases", "libpq_target",
           "run_pg_tool", "schema_revision", "target_path"]
