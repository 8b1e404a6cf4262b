"""Retention: old unflagged posts go with their rows and files; everything that matters stays."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

import store.retention
from store.config import Settings
from store.files import StoredFile, resolve, store_blob
from store.models import Capture, Case, CaseEvent, CasePost, Classification, Feedback, Outbox, Post, School, Source
from store.retention import RetentionReport, apply_retention
from tests.helpers.fixtures import Env

NOW = datetime(2026, 11, 23, 3, 30, tzinfo=UTC)
OLD = NOW - timedelta(days=40)
RECENT = NOW - timedelta(days=10)
SOURCES = [{"name": "handmatig", "kind": "manual"}]


def _backdate(settings: Settings, stored: StoredFile) -> None:
    when = OLD.timestamp()
    os.utime(resolve(settings.storage.dir, stored.path), (when, when))


def _blob(settings: Settings, name: str) -> StoredFile:
    stored = store_blob(settings.storage.dir, f"ruwe opname {name}".encode(), media_type="application/json")
    _backdate(settings, stored)
    return stored


def _post(session: Session, name: str, *, fetched: datetime, severities: tuple[str, ...] = ("none",),
          files: tuple[StoredFile, ...] = ()) -> int:
    source_id = session.execute(select(Source.id)).scalars().first()
    school_id = session.execute(select(School.id)).scalars().first()
    post = Post(source_id=source_id, school_id=school_id, platform="facebook", external_id=name,
                text=f"Over BM Verkruisen: {name}", content_sha256="0" * 64, fetched_at=fetched,
                created_at=fetched)
    session.add(post)
    session.flush()
    assert post.id is not None
    for severity in severities:
        session.add(Classification(post_id=post.id, model="builtin", version="1", sentiment="neutral",
                                   severity=severity))
    for kind, stored in zip(("raw", "html", "screenshot"), files, strict=False):
        session.add(Capture(post_id=post.id, kind=kind, path=stored.path, sha256=stored.sha256, size=stored.size,
                            media_type="application/json"))
    session.flush()
    return post.id


def _case(session: Session, post_id: int, status: str) -> None:
    school_id = session.execute(select(School.id)).scalars().first()
    case = Case(school_id=school_id, status=status, severity="negative")
    session.add(case)
    session.flush()
    session.add(CasePost(case_id=case.id, post_id=post_id))  # type: ignore[arg-type]


def _post_ids(env: Env) -> set[str]:
    with env.session() as session:
        return set(session.execute(select(Post.external_id)).scalars())


def _exists(settings: Settings, stored: StoredFile) -> bool:
    return resolve(settings.storage.dir, stored.path).exists()


def test_retention_deletes_exactly_the_old_unflagged_posts(env_any_db: Env) -> None:
    settings = env_any_db.write(SOURCES)
    own = _blob(settings, "alleen van oud-1")
    own_html = _blob(settings, "html van oud-1")
    shared_with_kept = _blob(settings, "gedeeld met een gemarkeerd bericht")
    shared_between_deleted = _blob(settings, "gedeeld door twee oude berichten")
    shared_with_recent = _blob(settings, "gedeeld met een recent bericht")
    kept_files = {name: _blob(settings, name) for name in ("open", "gesloten", "afgewezen", "recent", "nieuw")}
    with env_any_db.session() as session:
        old_1 = _post(session, "oud-1", fetched=OLD, files=(own, own_html))
        _post(session, "oud-2", fetched=OLD, files=(shared_with_kept,))
        _post(session, "oud-3", fetched=OLD, files=(shared_between_deleted,))
        _post(session, "oud-4", fetched=OLD, files=(shared_between_deleted, shared_with_recent))
        _post(session, "gemarkeerd", fetched=OLD, severities=("criminal",), files=(shared_with_kept,))
        # Flagged once by an earlier model: still kept.
        _post(session, "ooit-gemarkeerd", fetched=OLD, severities=("negative", "none"))
        for status, file in (("new", "open"), ("closed", "gesloten"), ("dismissed", "afgewezen")):
            post_id = _post(session, f"zaak-{status}", fetched=OLD, files=(kept_files[file],))
            _case(session, post_id, status)
        _post(session, "recent", fetched=RECENT, files=(kept_files["recent"], shared_with_recent))
        _post(session, "niet-geclassificeerd", fetched=OLD, severities=(), files=(kept_files["nieuw"],))
        # Exactly at the limit: not older than 30 days yet.
        _post(session, "grens", fetched=NOW - timedelta(days=30))
        classification_id = session.execute(
            select(Classification.id).where(Classification.post_id == old_1)).scalar_one()
        session.add(Feedback(post_id=old_1, classification_id=classification_id, verdict="confirmed"))
        session.add(Outbox(dedup_key="alert:post:oud-1", kind="alert", recipient="directeur@school.example",
                           subject="Melding", post_id=old_1))

    report = apply_retention(settings, now=NOW)

    assert report == RetentionReport(posts=4, captures=6, files=3, classifications=4)
    assert _post_ids(env_any_db) == {"gemarkeerd", "ooit-gemarkeerd", "zaak-new", "zaak-closed", "zaak-dismissed",
                                     "recent", "niet-geclassificeerd", "grens"}
    assert not _exists(settings, own) and not _exists(settings, own_html)
    assert not _exists(settings, shared_between_deleted)
    assert _exists(settings, shared_with_kept) and _exists(settings, shared_with_recent)
    assert all(_exists(settings, stored) for stored in kept_files.values())
    with env_any_db.session() as session:
        assert session.execute(select(func.count()).select_from(Feedback)).scalar_one() == 0
        outbox = session.execute(select(Outbox)).scalars().one()
        assert outbox.post_id is None and outbox.subject == "Melding"
        # Every capture row left still has its file.
        for capture in session.execute(select(Capture)).scalars():
            assert resolve(settings.storage.dir, capture.path).exists(), capture.path
        assert session.execute(select(func.count()).select_from(CasePost)).scalar_one() == 3

    assert apply_retention(settings, now=NOW) == RetentionReport()


def test_retention_works_in_batches(env_any_db: Env) -> None:
    settings = env_any_db.write(SOURCES, retention={"unflagged_days": 7})
    files = [_blob(settings, f"bestand {i}") for i in range(7)]
    with env_any_db.session() as session:
        for i, stored in enumerate(files):
            _post(session, f"oud-{i}", fetched=RECENT, files=(stored,))
            if i % 3 == 0:
                _post(session, f"gemarkeerd-{i}", fetched=RECENT, severities=("urgent",))

    report = apply_retention(settings, now=NOW, batch_size=2)

    assert report == RetentionReport(posts=7, captures=7, files=7, classifications=7)
    assert _post_ids(env_any_db) == {"gemarkeerd-0", "gemarkeerd-3", "gemarkeerd-6"}
    assert not any(_exists(settings, stored) for stored in files)


def test_files_stay_when_the_database_delete_fails(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = env.write(SOURCES)
    stored = _blob(settings, "bewijs")
    with env.session() as session:
        _post(session, "oud", fetched=OLD, files=(stored,))
    original = store.retention._delete_batch

    def crash(session: Session, ids: list[int]) -> tuple[int, int, int, set[str]]:
        original(session, ids)
        raise RuntimeError("database weg")

    monkeypatch.setattr(store.retention, "_delete_batch", crash)
    with pytest.raises(RuntimeError):
        apply_retention(settings, now=NOW)

    # Rolled back: the row and its file are both still there.
    assert _post_ids(env) == {"oud"}
    assert _exists(settings, stored)


def test_a_freshly_written_file_is_left_for_a_later_run(env: Env) -> None:
    settings = env.write(SOURCES)
    stored = store_blob(settings.storage.dir, b"zojuist opnieuw opgeslagen", media_type="application/json")
    with env.session() as session:
        _post(session, "oud", fetched=OLD, files=(stored,))

    report = apply_retention(settings, now=NOW)

    assert report == RetentionReport(posts=1, captures=1, files=0, classifications=1)
    assert _exists(settings, stored)


def _closed_case(session: Session, post_ids: list[int], *, status: str, closed: datetime,
                 reported: datetime | None = None) -> int:
    school_id = session.execute(select(School.id)).scalars().first()
    case = Case(school_id=school_id, status=status, severity="criminal", closed_at=closed, updated_at=closed,
                reported_at=reported, police_reference="PL0900-2025" if reported else None)
    session.add(case)
    session.flush()
    for post_id in post_ids:
        session.add(CasePost(case_id=case.id, post_id=post_id))  # type: ignore[arg-type]
    session.add(CaseEvent(case_id=case.id, action="status", actor="directeur", note=f"naar {status}"))  # type: ignore[arg-type]
    session.flush()
    return int(case.id)  # type: ignore[arg-type]


def test_cases_closed_past_their_term_go_with_their_timeline_and_posts(env_any_db: Env) -> None:
    settings = env_any_db.write(SOURCES)
    assert (settings.retention.closed_case_days, settings.retention.reported_case_days) == (365, 1825)
    only_expired = _blob(settings, "alleen in het verlopen dossier")
    shared = _blob(settings, "ook in een lopend dossier")
    year_and_a_day = NOW - timedelta(days=366)
    with env_any_db.session() as session:
        gone = _post(session, "verlopen", fetched=year_and_a_day, severities=("criminal",), files=(only_expired,))
        both = _post(session, "ook-lopend", fetched=year_and_a_day, severities=("criminal",), files=(shared,))
        expired = _closed_case(session, [gone, both], status="closed", closed=year_and_a_day)
        _case(session, both, "addressed")  # the same post in a case that is still open
        dismissed = _closed_case(session, [_post(session, "vals-alarm", fetched=year_and_a_day,
                                                 severities=("negative",))],
                                 status="dismissed", closed=year_and_a_day)
        recent = _closed_case(session, [_post(session, "pas-gesloten", fetched=year_and_a_day,
                                              severities=("criminal",))],
                              status="closed", closed=NOW - timedelta(days=300))
        police = _closed_case(session, [_post(session, "aangifte", fetched=NOW - timedelta(days=800),
                                              severities=("urgent",))],
                              status="closed", closed=NOW - timedelta(days=700), reported=NOW - timedelta(days=790))
        old_police = _closed_case(session, [_post(session, "oude-aangifte", fetched=NOW - timedelta(days=2000),
                                                  severities=("urgent",))],
                                  status="closed", closed=NOW - timedelta(days=1900),
                                  reported=NOW - timedelta(days=1990))
        session.add(Outbox(dedup_key="alert:verlopen", kind="alert", recipient="directeur@school.example",
                           subject="Melding", case_id=expired, post_id=gone))

    report = apply_retention(settings, now=NOW)

    assert report.cases == 3 and report.posts == 3
    assert _post_ids(env_any_db) == {"ook-lopend", "pas-gesloten", "aangifte"}
    assert not _exists(settings, only_expired) and _exists(settings, shared)
    with env_any_db.session() as session:
        assert set(session.execute(select(Case.id)).scalars()) >= {recent, police}
        for case_id in (expired, dismissed, old_police):
            assert session.get(Case, case_id) is None
            assert not session.execute(select(CaseEvent).where(CaseEvent.case_id == case_id)).first()
        outbox = session.execute(select(Outbox)).scalars().one()
        assert (outbox.case_id, outbox.post_id, outbox.subject) == (None, None, "Melding")
    assert apply_retention(settings, now=NOW) == RetentionReport()


def test_case_terms_are_settings(env: Env) -> None:
    settings = env.write(SOURCES, retention={"closed_case_days": 30, "reported_case_days": 60})
    with env.session() as session:
        post = _post(session, "kort", fetched=NOW - timedelta(days=40), severities=("criminal",))
        _closed_case(session, [post], status="closed", closed=NOW - timedelta(days=31))
    assert apply_retention(settings, now=NOW).cases == 1
    assert _post_ids(env) == set()
