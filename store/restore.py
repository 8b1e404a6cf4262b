"""Restore a backup (`store.backup`) into a fresh directory: `schoolwacht restore FILE --into DIR`.

The target directory must be empty (or not exist): a restore never mixes with, or overwrites,
an installation. What it holds afterwards:

    DIR/schoolwacht.toml        the backed-up config, with [database] url and [storage] dir
                                pointing here (comments are not kept: see backup-config.toml)
    DIR/backup-config.toml      the config file exactly as it was backed up
    DIR/backup-manifest.json    the manifest of the archive
    DIR/schoolwacht.db          the SQLite database (a PostgreSQL backup goes into --database-url)
    DIR/storage/                captures, screenshots

Every member is checked against the manifest's SHA-256 while it is written; a member that is
not a plain file, has an unsafe name, is missing, extra or changed stops the restore, and what
was written is removed again. A PostgreSQL backup is restored with `pg_restore
--single-transaction` into an existing, empty database (create it first: `createdb`). Afterwards
the row counts must equal the manifest's, every capture file must match its SHA-256 in the
database, and the leases of the old installation's processes are ended so the restored service
starts its scheduler at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import tarfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from schoolwacht.errors import InputError, SchoolwachtError, StorageError
from store.backup import (
    CONFIG_MEMBER,
    FORMAT,
    MANIFEST,
    PG_MEMBER,
    SQLITE_MEMBER,
    STORAGE_PREFIX,
    SUMS,
    capture_paths,
    count_rows,
    expire_leases,
    libpq_target,
    run_pg_tool,
    schema_revision,
)

CONFIG_FILE = "schoolwacht.toml"
ORIGINAL_CONFIG = "backup-config.toml"
MANIFEST_COPY = "backup-manifest.json"
DATABASE_FILE = "schoolwacht.db"
STORAGE_DIR = "storage"
_PG_STAGING = ".restore-schoolwacht.pgdump"
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class RestoreResult:
    directory: Path
    config_file: Path | None
    database_url: str
    backend: str
    revision: str | None
    created_at: str
    files: int
    counts: dict[str, int]
    missing_captures: list[str] = field(default_factory=list)


def _target_for(name: str, into: Path) -> Path:
    """Where an archive member goes; refuses any name that is not one the backup writes."""
    path = PurePosixPath(name)
    if path.is_absolute() or any(part in ("", ".", "..") for part in path.parts) or "\\" in name:
        raise InputError(f"onveilige naam in het archief: {name!r}")
    if name == SQLITE_MEMBER:
        return into / DATABASE_FILE
    if name == PG_MEMBER:
        return into / _PG_STAGING
    if name == CONFIG_MEMBER:
        return into / ORIGINAL_CONFIG
    if name.startswith(STORAGE_PREFIX) and len(path.parts) > 1:
        return into.joinpath(STORAGE_DIR, *path.parts[1:])
    raise InputError(f"onbekend bestand in het archief: {name!r}")


def _extract(archive: Path, into: Path) -> tuple[dict[str, Any], dict[str, tuple[str, int]]]:
    """Write every member, hashing as it goes; the manifest and {name: (sha256, size)}."""
    written: dict[str, tuple[str, int]] = {}
    manifest_bytes: bytes | None = None
    try:
        tar = tarfile.open(archive, "r:gz")  # noqa: SIM115  (closed by the `with tar` below)
    except FileNotFoundError:
        raise InputError(f"{archive} bestaat niet") from None
    except (tarfile.TarError, OSError) as exc:
        raise InputError(f"{archive} is geen Schoolwacht-back-up (.tar.gz): {exc}") from None
    with tar:
        try:
            for member in tar:
                if member.isdir():
                    continue
                if not member.isfile():
                    raise InputError(f"onveilig archief: {member.name!r} is geen gewoon bestand")
                if member.name in written or (member.name == MANIFEST and manifest_bytes is not None):
                    raise InputError(f"{member.name!r} staat twee keer in het archief")
                source = tar.extractfile(member)
                assert source is not None
                if member.name in (MANIFEST, SUMS):
                    data = source.read()
                    if member.name == MANIFEST:
                        manifest_bytes = data
                    continue
                target = _target_for(member.name, into)
                target.parent.mkdir(parents=True, exist_ok=True)
                digest = hashlib.sha256()
                # Owner and group only: it is personal data (the service's group may read it).
                with os.fdopen(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640), "wb") as handle:
                    while chunk := source.read(_CHUNK):
                        digest.update(chunk)
                        handle.write(chunk)
                written[member.name] = (digest.hexdigest(), member.size)
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise InputError(f"{archive} is beschadigd of onvolledig: {exc}") from None
    if manifest_bytes is None:
        raise InputError(f"{archive} heeft geen {MANIFEST}: geen (volledige) Schoolwacht-back-up")
    try:
        manifest = json.loads(manifest_bytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InputError(f"{MANIFEST} in {archive} is geen geldige JSON") from None
    found = manifest.get("format") if isinstance(manifest, dict) else None
    if found != FORMAT:
        raise InputError(f"{archive}: onbekend back-upformaat {found!r} (verwacht {FORMAT})")
    return manifest, written


def _compare(manifest: dict[str, Any], written: dict[str, tuple[str, int]]) -> None:
    listed = {f["path"]: f["sha256"] for f in manifest.get("files", [])}
    problems = [f"ontbreekt: {name}" for name in sorted(set(listed) - set(written))]
    problems += [f"extra: {name}" for name in sorted(set(written) - set(listed))]
    problems += [f"gewijzigd: {name}" for name in sorted(set(listed) & set(written))
                 if listed[name] != written[name][0]]
    if problems:
        more = f" (en {len(problems) - 5} meer)" if len(problems) > 5 else ""
        raise InputError(f"de back-up klopt niet met zijn manifest: {'; '.join(problems[:5])}{more}")


def _check_empty_target(into: Path) -> bool:
    """True when `into` has to be created."""
    if not into.exists():
        return True
    if not into.is_dir():
        raise InputError(f"{into} is geen map")
    if any(into.iterdir()):
        raise InputError(f"doelmap {into} is niet leeg; een terugzetting gaat altijd naar een nieuwe, lege map")
    return False


def _check_empty_database(url: str) -> None:
    if make_url(url).get_backend_name() != "postgresql":
        raise InputError("--database-url moet een PostgreSQL-URL zijn (postgresql+psycopg://...)")
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            tables = inspect(connection).get_table_names()
    except Exception as exc:
        raise InputError(f"database {make_url(url).render_as_string(hide_password=True)} niet bereikbaar: "
                         f"{' '.join(str(getattr(exc, 'orig', None) or exc).split())[:300]} (maak hem eerst aan: "
                         f"createdb)") from None
    finally:
        engine.dispose()
    if tables:
        raise InputError(f"database {make_url(url).database} is niet leeg ({len(tables)} tabellen); "
                         "een terugzetting gaat altijd naar een nieuwe, lege database")


def _restore_database(manifest: dict[str, Any], into: Path, database_url: str | None) -> str:
    backend = manifest["database"]["backend"]
    if backend == "sqlite":
        if database_url is not None:
            raise InputError("een SQLite-back-up wordt als bestand in de doelmap teruggezet; --database-url is "
                             "alleen voor een PostgreSQL-back-up")
        db = into / DATABASE_FILE
        with sqlite3.connect(str(db)) as connection:
            integrity = connection.execute("PRAGMA integrity_check").fetchone()[0]
        if integrity != "ok":
            raise StorageError(f"de teruggezette database is beschadigd (integrity_check: {integrity})")
        return f"sqlite:///{db.resolve()}"
    if database_url is None:
        raise InputError("dit is een PostgreSQL-back-up: geef met --database-url een nieuwe, lege database "
                         "(createdb ...)")
    dump = into / _PG_STAGING
    uri, env = libpq_target(database_url)
    try:
        run_pg_tool(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
                     "--no-password", f"--dbname={uri}", str(dump)], env, "pg_restore")
    finally:
        dump.unlink(missing_ok=True)
    return database_url


def _verify_restored(url: str, manifest: dict[str, Any], into: Path) -> list[str]:
    """Counts as in the manifest, capture files as in the database; the captures absent."""
    from store.files import read_verified
    from store.models import Capture

    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            counts = count_rows(connection)
            if counts != manifest.get("counts"):
                raise StorageError(f"aantallen na terugzetten wijken af van de back-up: {counts} in plaats van "
                                   f"{manifest.get('counts')}")
            if schema_revision(connection) != manifest["database"].get("revision"):
                raise StorageError("schemaversie na terugzetten wijkt af van de back-up")
            expire_leases(connection)
            rows = list(connection.execute(Capture.__table__.select()))  # type: ignore[attr-defined]
            paths = capture_paths(connection)
    finally:
        engine.dispose()
    storage = into / STORAGE_DIR
    missing = set(manifest.get("missing_captures") or [])
    for row in rows:
        if row.path in missing:
            continue
        try:
            read_verified(storage, row.path, row.sha256)
        except StorageError as exc:
            raise StorageError(f"na terugzetten: {exc}") from None
    return sorted(missing & paths)


def _write_config(into: Path, database_url: str) -> Path | None:
    import tomli_w

    original = into / ORIGINAL_CONFIG
    if not original.is_file():
        return None
    data = tomllib.loads(original.read_text(encoding="utf-8"))
    data["database"] = {**data.get("database", {}), "url": database_url}
    data["storage"] = {**data.get("storage", {}), "dir": str((into / STORAGE_DIR).resolve())}
    target = into / CONFIG_FILE
    target.write_text(tomli_w.dumps(data), encoding="utf-8")
    return target


def _record(url: str, archive: Path, manifest: dict[str, Any]) -> None:
    from sqlmodel import Session

    from store import audit

    engine = create_engine(url, poolclass=NullPool)
    try:
        with Session(engine) as session:
            audit.record(session, actor="cli", action="backup_restored", object_type="backup",
                         object_id=archive.name[:64],
                         detail={"archive": str(archive.resolve()), "created_at": manifest.get("created_at")})
            session.commit()
    finally:
        engine.dispose()


def restore_backup(archive: Path, *, into: Path, database_url: str | None = None) -> RestoreResult:
    """`schoolwacht restore FILE --into DIR [--database-url URL]`; see the module docstring."""
    create = _check_empty_target(into)
    if database_url is not None:
        _check_empty_database(database_url)
    into.mkdir(parents=True, exist_ok=True, mode=0o750)
    loaded = False
    try:
        manifest, written = _extract(archive, into)
        _compare(manifest, written)
        (into / MANIFEST_COPY).write_text(json.dumps(manifest, indent=1, ensure_ascii=False), encoding="utf-8")
        (into / STORAGE_DIR).mkdir(exist_ok=True)
        url = _restore_database(manifest, into, database_url)
        loaded = database_url is not None
        missing = _verify_restored(url, manifest, into)
        config_file = _write_config(into, url)
        _record(url, archive, manifest)
    except BaseException as exc:
        for child in into.iterdir():
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
        if create:
            into.rmdir()
        if loaded and isinstance(exc, SchoolwachtError):
            name = make_url(database_url or "").database
            raise type(exc)(f"{exc}; database {name} bevat nu een onvolledige terugzetting: verwijder hem "
                            f"(dropdb {name}) en maak een nieuwe lege voor een volgende poging") from None
        raise
    return RestoreResult(into, config_file, url, manifest["database"]["backend"], manifest["database"].get("revision"),
                         str(manifest.get("created_at")), len(written), dict(manifest.get("counts") or {}), missing)


__all__ = ["CONFIG_FILE", "DATABASE_FILE", "MANIFEST_COPY", "ORIGINAL_CONFIG", "STORAGE_DIR", "RestoreResult",
           "restore_backup"]
