"""`schoolwacht backup` / `schoolwacht restore`: a consistent copy of a busy installation, restored
into a fresh directory (SQLite) or a new database (PostgreSQL), where evidence export + verify and
the audit chain still pass; and every way a restore refuses a bad archive or target."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from schoolwacht.errors import InputError, StorageError
from store.backup import create_backup
from store.db import make_engine, session_scope
from store.leases import acquire
from store.models import Capture, Lease, Post
from store.restore import restore_backup
from tests.helpers.evidence import Installation, install
from tests.helpers.fixtures import ROOT, Env

ADMIN_PG = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "schoolwacht.cli", "--config", str(config), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, env=dict(os.environ))


def _counts(url: str) -> dict[str, int]:
    from store.backup import count_rows

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return count_rows(connection)
    finally:
        engine.dispose()


def _post_texts(url: str) -> dict[int, str]:
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            return dict(session.execute(select(Post.id, Post.text)).all())  # type: ignore[arg-type]
    finally:
        engine.dispose()


@contextmanager
def _new_pg_database() -> Iterator[str]:
    import psycopg

    name = f"sw_restore_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_PG, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(ADMIN_PG, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class _Writer(threading.Thread):
    """Keeps the installation busy: a new flagged post with capture, classification and case
    every few milliseconds, as crawls and the classifier would."""

    def __init__(self, inst: Installation) -> None:
        super().__init__(daemon=True)
        self.inst = inst
        self.stop = threading.Event()
        self.written = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                self.inst.seed(f"Verkruisen bericht {self.written}: die meester is een sukkel",
                               author=f"schrijver{self.written % 7}")
                self.written += 1
                time.sleep(0.005)
        except BaseException as exc:  # shown by the test
            self.error = exc


def _installation(env: Env) -> tuple[Installation, list[int]]:
    inst = install(env, screenshots=False)
    (env.path / "storage").mkdir(exist_ok=True)
    cases = [inst.seed("Die juf van Verkruisen is een heks", author="boze_ouder").case_id,
             inst.seed("Ik steek BM Verkruisen in de fik", categories=["threat"], sentiment="negative",
                       author="dreiger").case_id]
    return inst, [c for c in cases if c is not None]


@pytest.mark.timeout(600)
def test_backup_while_busy_then_restore_and_verify_evidence(env_any_db: Env, tmp_path: Path) -> None:
    inst, cases = _installation(env_any_db)
    live_url = env_any_db.database_url
    first = _cli(env_any_db.config_file, "evidence", "export", str(cases[0]), "--out", str(tmp_path / "voor.zip"))
    assert first.returncode == 0, first.stderr
    before = _counts(live_url)

    writer = _Writer(inst)
    writer.start()
    while writer.written < 3 and writer.error is None:
        time.sleep(0.01)
    written_before = writer.written
    (tmp_path / "backups").mkdir()
    result = _cli(env_any_db.config_file, "backup", "--out", str(tmp_path / "backups"))
    written_during = writer.written - written_before
    writer.stop.set()
    writer.join(timeout=60)
    assert writer.error is None, writer.error
    assert result.returncode == 0, result.stderr
    assert written_during > 0  # the installation really was in use while it was backed up
    (archive,) = (tmp_path / "backups").glob("schoolwacht-backup-*.tar.gz")
    assert f"back-up geschreven naar {archive}" in result.stdout
    assert archive.stat().st_mode & 0o077 == 0  # personal data: owner only
    with tarfile.open(archive) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    counts = manifest["counts"]
    after = _counts(live_url)
    assert before["posts"] <= counts["posts"] <= after["posts"] and counts["posts"] >= before["posts"] + 3
    assert manifest["missing_captures"] == []

    into = tmp_path / "teruggezet"
    with _new_pg_database() if live_url.startswith("postgresql") else _nothing() as target_url:
        args = ["restore", str(archive), "--into", str(into)] + (["--database-url", target_url] if target_url else [])
        restored = subprocess.run([sys.executable, "-m", "schoolwacht.cli", *args], cwd=ROOT, capture_output=True,
                                  text=True, timeout=300)
        assert restored.returncode == 0, restored.stderr
        config = into / "schoolwacht.toml"
        assert f"configuratie: {config}" in restored.stdout
        restored_url = target_url or f"sqlite:///{(into / 'schoolwacht.db').resolve()}"
        # The snapshot, exactly: counts as in the manifest (the restore adds one audit entry).
        assert _counts(restored_url) == {**counts, "audit_entries": counts["audit_entries"] + 1}
        live_posts, restored_posts = _post_texts(live_url), _post_texts(restored_url)
        assert restored_posts.items() <= live_posts.items()

        cases_out = _cli(config, "cases", "--json")
        assert len(cases_out.stdout.splitlines()) == counts["cases"]
        for case_id in cases:
            bundle = tmp_path / f"na-{case_id}.zip"
            export = _cli(config, "evidence", "export", str(case_id), "--out", str(bundle))
            assert export.returncode == 0, export.stderr
            verify = _cli(config, "evidence", "verify", str(bundle))
            assert verify.returncode == 0 and "bewijsmap in orde" in verify.stdout, verify.stdout + verify.stderr
        audit = _cli(config, "audit", "verify")
        assert audit.returncode == 0 and "audit log intact" in audit.stdout, audit.stderr
        doctor = _cli(config, "doctor", "--skip", "model", "--skip", "sources", "--skip", "smtp", "--json")
        checks = {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}
        assert checks["database"]["status"] == "OK" and checks["storage"]["status"] == "OK"
        # The old service's scheduler lease does not hold the restored one back.
        engine = make_engine(restored_url)
        try:
            with session_scope(engine) as session:
                assert all(lease.expires_at <= _now() for lease in session.execute(select(Lease)).scalars())
        finally:
            engine.dispose()


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


def _now() -> Any:
    from store.types import utcnow

    return utcnow()


def _backup(env: Env, tmp_path: Path, name: str = "b.tar.gz") -> Path:
    return create_backup(env.settings(), out=tmp_path / name).path


def test_manual_restore_steps_match_the_docs(env: Env, tmp_path: Path) -> None:
    """docs/operations.md: `tar xzf` + `sha256sum -c SHA256SUMS` works without Schoolwacht."""
    _installation(env)
    archive = _backup(env, tmp_path)
    out = tmp_path / "hand"
    out.mkdir()
    subprocess.run(["tar", "xzf", str(archive), "-C", str(out)], check=True)
    check = subprocess.run(["sha256sum", "-c", "--strict", "SHA256SUMS"], cwd=out, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert (out / "database" / "schoolwacht.db").is_file() and (out / "config" / "schoolwacht.toml").is_file()
    assert any((out / "storage" / "captures").rglob("*.json"))


def test_restore_refuses_non_empty_target_and_existing_backup(env: Env, tmp_path: Path) -> None:
    _installation(env)
    archive = _backup(env, tmp_path)
    with pytest.raises(StorageError, match="bestaat al; een back-up wordt nooit overschreven"):
        create_backup(env.settings(), out=archive)
    target = tmp_path / "bezet"
    target.mkdir()
    (target / "iets.txt").write_text("van iemand anders")
    result = subprocess.run([sys.executable, "-m", "schoolwacht.cli", "restore", str(archive), "--into", str(target)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "is niet leeg" in result.stderr
    assert [p.name for p in target.iterdir()] == ["iets.txt"]
    with pytest.raises(InputError, match="--database-url moet een PostgreSQL-URL zijn"):
        restore_backup(archive, into=tmp_path / "nieuw", database_url="sqlite:///x.db")
    assert not (tmp_path / "nieuw").exists()


def _rewrite(archive: Path, target: Path, change: Any) -> None:
    """A copy of the archive with members changed by `change(name, data) -> list[(info, data)]`."""
    with tarfile.open(archive) as source, tarfile.open(target, "w:gz") as out:
        for member in source:
            data = source.extractfile(member).read() if member.isfile() else b""  # type: ignore[union-attr]
            for info, body in change(member, data):
                out.addfile(info, io.BytesIO(body) if info.isfile() else None)


@pytest.mark.parametrize("attack, message", [
    ("changed", "gewijzigd: storage/captures/"),
    ("extra", "extra: storage/extra.txt"),
    ("missing", "ontbreekt: database/schoolwacht.db"),
    ("traversal", "onveilige naam in het archief: 'storage/../../buiten.txt'"),
    ("symlink", "is geen gewoon bestand"),
    ("no-manifest", "heeft geen manifest.json"),
])
def test_restore_refuses_a_tampered_archive(env: Env, tmp_path: Path, attack: str, message: str) -> None:
    _installation(env)
    archive = _backup(env, tmp_path)
    bad = tmp_path / "bad.tar.gz"

    def change(member: tarfile.TarInfo, data: bytes) -> list[tuple[tarfile.TarInfo, bytes]]:
        kept = [(member, data)]
        if attack == "changed" and member.name.startswith("storage/captures/"):
            return [(member, data[:-1] + bytes([data[-1] ^ 1]))]
        if attack == "missing" and member.name == "database/schoolwacht.db":
            return []
        if attack == "no-manifest" and member.name == "manifest.json":
            return []
        if member.name == "config/schoolwacht.toml" and attack in ("extra", "traversal", "symlink"):
            name = {"extra": "storage/extra.txt", "traversal": "storage/../../buiten.txt",
                    "symlink": "storage/link"}[attack]
            info = tarfile.TarInfo(name)
            if attack == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
                return [*kept, (info, b"")]
            info.size = 4
            return [(info, b"boos"), *kept]
        return kept

    _rewrite(archive, bad, change)
    into = tmp_path / "doel"
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace("..", r"\.\.")):
        restore_backup(bad, into=into)
    assert not into.exists()  # everything written was removed again
    assert not (tmp_path / "buiten.txt").exists()


def test_restore_refuses_garbage(tmp_path: Path) -> None:
    garbage = tmp_path / "geen.tar.gz"
    garbage.write_bytes(b"dit is geen archief" * 50)
    with pytest.raises(InputError, match="geen Schoolwacht-back-up"):
        restore_backup(garbage, into=tmp_path / "doel")
    with pytest.raises(InputError, match="bestaat niet"):
        restore_backup(tmp_path / "weg.tar.gz", into=tmp_path / "doel")
    assert not (tmp_path / "doel").exists()


def test_backup_waits_for_retention_and_leaves_nothing_behind(env: Env, tmp_path: Path) -> None:
    _installation(env)
    engine = make_engine(env.database_url)
    try:
        assert acquire(engine, "job:retention", 600, holder="andere-host:1:retentie")
        with pytest.raises(StorageError, match="retention"):
            create_backup(env.settings(), out=tmp_path, retention_wait_seconds=1.5)
        assert list(tmp_path.glob("*.tar.gz")) == [] and list(tmp_path.glob(".tmp-*")) == []
    finally:
        engine.dispose()


def test_missing_capture_is_named_not_hidden(env: Env, tmp_path: Path) -> None:
    _installation(env)
    with env.session() as session:
        path = session.execute(select(Capture.path)).scalars().first()
    assert path is not None
    (env.path / "storage" / path).unlink()
    result = create_backup(env.settings(), out=tmp_path / "b.tar.gz")
    assert result.missing_captures == [path]
    restored = restore_backup(result.path, into=tmp_path / "doel")
    assert restored.missing_captures == [path]


def test_backup_and_restore_is_recorded_in_the_audit_log(env: Env, tmp_path: Path) -> None:
    from store.models import AuditEntry

    _installation(env)
    archive = _backup(env, tmp_path)
    with env.session() as session:
        entry = session.execute(select(AuditEntry).where(AuditEntry.action == "backup_created")).scalars().one()
    assert entry.detail["path"] == str(archive.resolve()) and len(entry.detail["sha256"]) == 64
    restored = restore_backup(archive, into=tmp_path / "doel")
    engine = make_engine(restored.database_url)
    try:
        with session_scope(engine) as session:
            actions = [e.action for e in session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()]
    finally:
        engine.dispose()
    assert actions[-1] == "backup_restored" and "backup_created" not in actions


def test_postgres_target_must_be_given_and_empty_and_pg_dump_present(env_any_db: Env, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    if not env_any_db.database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    _installation(env_any_db)
    archive = _backup(env_any_db, tmp_path)
    with pytest.raises(InputError, match="dit is een PostgreSQL-back-up: geef met --database-url"):
        restore_backup(archive, into=tmp_path / "doel")
    with pytest.raises(InputError, match="is niet leeg"):  # the live database itself
        restore_backup(archive, into=tmp_path / "doel", database_url=env_any_db.database_url)
    assert not (tmp_path / "doel").exists()
    monkeypatch.setenv("PATH", str(tmp_path / "leeg"))
    with pytest.raises(StorageError, match="pg_dump niet gevonden op PATH"):
        create_backup(env_any_db.settings(), out=tmp_path / "c.tar.gz")
    assert [p.name for p in tmp_path.glob("*.tar.gz")] == ["b.tar.gz"] and list(tmp_path.glob(".tmp-*")) == []
    assert shutil.which("pg_dump") is None
