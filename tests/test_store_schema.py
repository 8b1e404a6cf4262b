"""The store on SQLite and PostgreSQL: migrations, constraints, types."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic import command
from alembic.util.exc import CommandError
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from store.db import make_engine, session_scope
from store.files import StoredFile
from store.migrate import alembic_config, current_revision, head_revision, upgrade
from store.models import AuditEntry, Capture, Post, School, Source
from store.posts import NewPost, insert_posts


@pytest.fixture
def engine(database_url: str):
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def _school_and_source(session) -> tuple[int, int]:
    school = School(name="obs BM Verkruisen", aliases=["Verkruisen"])
    session.add(school)
    session.flush()
    source = Source(name="m", school_id=school.id, kind="mastodon")
    session.add(source)
    session.flush()
    return school.id, source.id


def _post(school_id: int, source_id: int, external_id: str) -> NewPost:
    return NewPost(source_id=source_id, school_id=school_id, platform="mastodon",
                   external_id=external_id, text="BM Verkruisen", content_sha256="0" * 64,
                   capture=StoredFile("captures/aa/x.json", "a" * 64, 10), capture_url=None,
                   capture_media_type="application/json",
                   created_at=datetime(2026, 1, 1, 12, tzinfo=UTC))


def test_migrations_create_every_table_of_the_model(engine) -> None:
    tables = set(inspect(engine).get_table_names())
    assert set(SQLModel.metadata.tables) <= tables
    assert current_revision(engine) == head_revision()


def test_models_and_migrations_agree(engine) -> None:
    """`alembic check`: the model has no change that a migration does not carry."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        try:
            command.check(config)
        except CommandError as exc:  # pragma: no cover - the message is the diagnosis
            pytest.fail(f"models differ from migrations: {exc}")


def test_upgrade_is_idempotent(engine) -> None:
    upgrade(engine)
    assert current_revision(engine) == head_revision()


def test_platform_external_id_is_unique_in_the_database(engine) -> None:
    with session_scope(engine) as session:
        school_id, source_id = _school_and_source(session)
        session.add(Post(source_id=source_id, school_id=school_id, platform="x",
                         external_id="1", text="a", content_sha256="0" * 64))
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(Post(source_id=source_id, school_id=school_id, platform="x",
                         external_id="1", text="b", content_sha256="0" * 64))


def test_insert_posts_skips_stored_posts_and_duplicates_in_a_batch(engine) -> None:
    with session_scope(engine) as session:
        school_id, source_id = _school_and_source(session)
        first = insert_posts(session, posts=[_post(school_id, source_id, "1"),
                                             _post(school_id, source_id, "1"),
                                             _post(school_id, source_id, "2")])
    assert len(first) == 2
    with session_scope(engine) as session:
        again = insert_posts(session, posts=[_post(school_id, source_id, "2"),
                                             _post(school_id, source_id, "3")])
        assert len(again) == 1
        assert session.execute(select(Post)).scalars().all().__len__() == 3
        captures = session.execute(select(Capture)).scalars().all()
    assert sorted(c.post_id for c in captures) == sorted([*first, *again])


def test_foreign_keys_are_enforced(engine) -> None:
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(Source(name="orphan", school_id=999, kind="rss"))


def test_timestamps_come_back_aware_utc(engine) -> None:
    amsterdam = timezone(timedelta(hours=1))
    with session_scope(engine) as session:
        school_id, source_id = _school_and_source(session)
        session.add(Post(source_id=source_id, school_id=school_id, platform="x", external_id="t",
                         text="a", content_sha256="0" * 64,
                         created_at=datetime(2026, 3, 1, 13, 30, tzinfo=amsterdam)))
    with session_scope(engine) as session:
        post = session.execute(select(Post)).scalars().one()
    assert post.created_at == datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    assert post.created_at.tzinfo is not None


def test_naive_datetimes_are_refused(engine) -> None:
    with pytest.raises(Exception, match="naive datetime"), session_scope(engine) as session:
        school_id, source_id = _school_and_source(session)
        session.add(Post(source_id=source_id, school_id=school_id, platform="x", external_id="n",
                         text="a", content_sha256="0" * 64, created_at=datetime(2026, 1, 1)))


def test_json_columns_round_trip(engine) -> None:
    with session_scope(engine) as session:
        session.add(AuditEntry(action="x", detail={"a": [1, "é"]}, prev_hash="0" * 64, hash="1" * 64))
    with session_scope(engine) as session:
        entry = session.execute(select(AuditEntry)).scalars().one()
    assert entry.detail == {"a": [1, "é"]}


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() >= 5000
    engine.dispose()
