"""Requests of data subjects (AVG art. 15 and 17): `schoolwacht privacy export` and `privacy erase`.

One installation holds posts of one author ("ouder3") under several spellings of the handle and on
several platforms, in cases of every kind, with classifications, feedback, shared and unshared
capture files and mails, next to posts of other people. The tests check exactly what the commands
write, delete and keep, on disk and in the database, and what they tell the school.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import zipfile
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select
from sqlmodel import Session

import scheduler
from alerts.digest import queue_digest
from schoolwacht.cli import cli
from schoolwacht.errors import InputError
from store.audit import verify_chain
from store.cases import open_or_join_case
from store.classifications import add_classification
from store.config import Settings
from store.db import make_engine
from store.feedback import add_feedback
from store.files import StoredFile, resolve, store_blob
from store.models import (
    AuditEntry,
    Capture,
    Case,
    CaseEvent,
    CasePost,
    Classification,
    Feedback,
    Outbox,
    Post,
    School,
    Source,
)
from store.outbox import enqueue, mark_sent
from store.posts import NewPost, add_capture, insert_posts
from store.privacy import Subject, handle_key
from store.types import utcnow
from store.workflow import ActionInput, change_status
from tests.helpers.fixtures import Env

DIRECTOR = "directeur@school.example"
SOURCES = [{"name": "handmatig", "kind": "manual"}]
TEXTS = {
    "p1": "De communicatie van BM Verkruisen is echt waardeloos, alweer geen nieuwsbrief.",
    "p2": "Die juf van Verkruisen is een vuile leugenaar en een heks.",
    "p3": "Meester Jan van de Verkruisen is een sukkel, iedereen weet het.",
    "p4": "Die directeur van BM Verkruisen is een idioot.",
    "p5": "Morgen sportdag op de Verkruisen, zin in!",
    "p6": "Ervaringen met BM Verkruisen? Wij overwegen onze zoon in te schrijven.",
    "q1": "Fijne kerstmarkt gehad op de Verkruisen.",
    "q2": "Wat een slechte school is de Verkruisen geworden.",
}
# (platform, handle) per post: p* are the subject's, under every spelling a handle gets.
AUTHORS = {
    "p1": ("x", "Ouder3"), "p2": ("bluesky", "@Ouder3"), "p3": ("bluesky", "OUDER3"), "p4": ("bluesky", "ouder3"),
    "p5": ("x", "ouder3"), "p6": ("reddit", "u/ouder3"),
    "q1": ("x", "ouder33"), "q2": ("mastodon", "ouder3@school.social"),
}


@dataclass
class World:
    env: Env
    settings: Settings
    posts: dict[str, int] = field(default_factory=dict)
    cases: dict[str, int] = field(default_factory=dict)
    files: dict[str, StoredFile] = field(default_factory=dict)
    mails: dict[str, int] = field(default_factory=dict)

    def exists(self, name: str) -> bool:
        return resolve(self.settings.storage.dir, self.files[name].path).exists()

    def cli(self, *args: str) -> Result:
        return CliRunner().invoke(cli, ["--config", str(self.env.config_file), "privacy", *args])


def _blob(world: World, name: str, data: bytes, *, folder: str = "captures", media_type: str = "application/json"
          ) -> StoredFile:
    stored = store_blob(world.settings.storage.dir, data, media_type=media_type, folder=folder)
    world.files[name] = stored
    return stored


def _insert(session: Session, world: World, name: str, raw: StoredFile, *, author: tuple[str, str] | None = None,
            text: str | None = None) -> int:
    platform, handle = author or AUTHORS[name]
    source_id = session.execute(select(Source.id)).scalars().first()
    school_id = session.execute(select(School.id)).scalars().first()
    text = text or TEXTS[name]
    [post_id] = insert_posts(session, posts=[NewPost(
        source_id=source_id, school_id=school_id, platform=platform, external_id=f"{platform}-{name}",  # type: ignore[arg-type]
        text=text, content_sha256=hashlib.sha256(text.encode()).hexdigest(), capture=raw,
        capture_url=f"https://{platform}.example/api/{name}", capture_media_type="application/json",
        url=f"https://{platform}.example/{handle}/{name}", author_handle=handle, author_name="Ouder Drie",
        matched_phrase="Verkruisen")])
    world.posts[name] = post_id
    return post_id


def _classify(session: Session, post_id: int, severity: str, categories: tuple[str, ...] = ()) -> Case | None:
    row = add_classification(
        session, post_id=post_id, model="builtin", version="test", language="nl",
        sentiment="neutral" if severity == "none" else "negative", sentiment_score=0.9,
        scores={c: 0.97 for c in categories}, categories=list(categories),
        explanations={c: [{"start": 0, "end": 8, "text": "Die juf"}] for c in categories}, severity=severity)
    post = session.get(Post, post_id)
    assert post is not None
    return open_or_join_case(session, post=post, classification=row)


def _status(session: Session, case: Case, to: str, **form: str) -> None:
    change_status(session, case, to=to, form=ActionInput(**form), actor=DIRECTOR, actor_id=None)


def build(env: Env) -> World:
    settings = env.write(SOURCES, mail={"director": [DIRECTOR]})
    world = World(env=env, settings=settings)
    raw = {name: _blob(world, f"raw-{name}", json.dumps({"post": name}).encode())
           for name in ("p1", "p2", "p3", "p4", "p6", "q2")}
    # One API page held p5 and q1 (another author): the file is shared.
    raw["p5"] = raw["q1"] = _blob(world, "page-p5-q1", b'{"data": ["p5", "q1"]}')
    with env.session() as session:
        for name in ("p4", "p2", "p3", "p1", "p5", "p6", "q1", "q2"):  # p4's case is closed before p3 comes
            _insert(session, world, name, raw[name])
            if name == "p4":
                case = _classify(session, world.posts["p4"], "criminal", ("insult",))
                assert case is not None
                _status(session, case, "closed")
                world.cases["p4"] = case.id  # type: ignore[assignment]
            elif name == "p2":
                case = _classify(session, world.posts["p2"], "criminal", ("defamation",))
                assert case is not None
                _status(session, case, "reported", reported_on="2026-10-01", reference="PL0100-2026123456")
                world.cases["p2"] = case.id  # type: ignore[assignment]
            elif name == "p3":
                case = _classify(session, world.posts["p3"], "criminal", ("insult",))
                assert case is not None
                _status(session, case, "triaged")
                world.cases["p3"] = case.id  # type: ignore[assignment]
            elif name == "p1":
                case = _classify(session, world.posts["p1"], "negative")
                assert case is not None
                world.cases["p1"] = case.id  # type: ignore[assignment]
            elif name in ("p5", "q1"):
                assert _classify(session, world.posts[name], "none") is None
            elif name == "q2":
                case = _classify(session, world.posts["q2"], "negative")
                world.cases["q2"] = case.id  # type: ignore[union-attr,assignment]
        # p1 and p4 also share one html capture (both erased: the file goes); p4 has a screenshot.
        html = _blob(world, "html-p1-p4", b"<html>p1 en p4</html>", media_type="text/html")
        for name in ("p1", "p4"):
            add_capture(session, post_id=world.posts[name], kind="html", stored=html, media_type="text/html", url=None)
        shot = _blob(world, "shot-p4", b"\x89PNG schermafbeelding p4", folder="screenshots", media_type="image/png")
        add_capture(session, post_id=world.posts["p4"], kind="screenshot", stored=shot, media_type="image/png",
                    url=None)
        p1_classification = session.execute(select(Classification).where(
            Classification.post_id == world.posts["p1"])).scalars().one()
        add_feedback(session, post_id=world.posts["p1"], classification=p1_classification, user_id=None,
                     verdict="confirmed", note="klopt, ouder is aangesproken")
        for name, sent in (("p4", True), ("p5", False), ("p3", False), ("q1", False)):
            enqueue(session, dedup_key=f"alert:post:{world.posts[name]}:{DIRECTOR}", kind="alert", recipient=DIRECTOR,
                    subject="[Schoolwacht] Mogelijk strafbaar bericht over obs BM Verkruisen",
                    body_text=f"Bericht: {TEXTS[name]}", body_html=f"<p>{TEXTS[name]}</p>", post_id=world.posts[name])
            world.mails[name] = session.execute(select(Outbox.id).where(
                Outbox.post_id == world.posts[name])).scalar_one()
            if sent:
                mark_sent(session, world.mails[name])
        # The real weekly digest of this week: it quotes p1 (negative, not alerted).
        assert queue_digest(session, settings, now=utcnow() + timedelta(days=7)) == 1
        digest = session.execute(select(Outbox).where(Outbox.kind == "digest")).scalars().one()
        assert f'"{TEXTS["p1"]}"' in digest.body_text
        world.mails["digest"] = digest.id  # type: ignore[assignment]
    return world


def _audit(env: Env, action: str) -> list[AuditEntry]:
    with env.session() as session:
        return list(session.execute(select(AuditEntry).where(AuditEntry.action == action)
                                    .order_by(AuditEntry.id)).scalars())


def _chain_ok(env: Env) -> bool:
    with env.session() as session:
        return verify_chain(session).ok


def _count(session: Session, model: Any, *where: Any) -> int:
    return int(session.execute(select(func.count()).select_from(model).where(*where)).scalar_one())


SUBJECT = ("p1", "p2", "p3", "p4", "p5", "p6")


def test_handles_of_one_person_match_and_nothing_else() -> None:
    assert {handle_key(h) for h in ("Ouder3", "@Ouder3", "  OUDER3 ", "u/ouder3", "/u/Ouder3")} == {"ouder3"}
    assert handle_key("ouder3@school.social") != "ouder3" and handle_key("ouder33") != "ouder3"
    assert Subject.parse("@Ouder3", " X ").platform == "x"
    for empty in ("", "  ", "@", "u/"):
        with pytest.raises(InputError, match="handle"):
            Subject.parse(empty)


def test_export_holds_everything_about_the_author_and_is_audited(env_any_db: Env, tmp_path: Path) -> None:
    world = build(env_any_db)
    out = tmp_path / "inzage-ouder3.zip"
    result = world.cli("export", "--author", "@OUDER3", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "6 bericht(en), 4 dossier(s)" in result.output

    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        document = json.loads(archive.read("export.json"))
        for post in document["posts"]:
            for capture in post["captures"]:
                assert archive.read(capture["file"]) == resolve(world.settings.storage.dir,
                                                                capture["path"]).read_bytes()
    assert "inzage (art. 15 AVG)" in document["explanation"] and "art. 15 lid 4" in document["explanation"]
    assert document["request"] == {"handle": "@OUDER3", "platform": None}
    posts = {p["id"]: p for p in document["posts"]}
    assert set(posts) == {world.posts[n] for n in SUBJECT}  # not ouder33, not ouder3@school.social
    assert {p["text"] for p in posts.values()} == {TEXTS[n] for n in SUBJECT}
    p1, p2, p5 = posts[world.posts["p1"]], posts[world.posts["p2"]], posts[world.posts["p5"]]
    assert [c["severity"] for c in p1["classifications"]] == ["negative"]
    assert p1["feedback"][0]["verdict"] == "confirmed" and p1["feedback"][0]["note"] == "klopt, ouder is aangesproken"
    assert {c["kind"] for c in p1["captures"]} == {"raw", "html"} and p1["case_ids"] == [world.cases["p1"]]
    assert p5["captures"][0]["shared_with_other_posts"] is True  # the page also holds q1
    assert p2["captures"][0]["shared_with_other_posts"] is False
    assert names == {"export.json"} | {c["file"] for p in posts.values() for c in p["captures"]}
    cases = {c["id"]: c for c in document["cases"]}
    assert set(cases) == {world.cases[n] for n in ("p1", "p2", "p3", "p4")}
    reported = cases[world.cases["p2"]]
    assert reported["status"] == "reported" and reported["police_reference"] == "PL0100-2026123456"
    assert [e["action"] for e in reported["events"]] == ["opened", "status"]
    mails = {m["id"] for m in document["mails"]}
    assert mails == {world.mails[n] for n in ("p3", "p4", "p5", "digest")}
    assert document["summary"] == {"posts": 6, "cases": 4, "captures": 9, "mails": 4}

    [entry] = _audit(world.env, "privacy_export")
    assert entry.object_id == hashlib.sha256(b"ouder3").hexdigest()
    assert entry.detail["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert sorted(entry.detail["posts"]) == sorted(world.posts[n] for n in SUBJECT)
    assert "ouder3" not in json.dumps(entry.detail).lower()
    assert _chain_ok(world.env)

    # JSON only, one platform; an existing file is never overwritten.
    plain = tmp_path / "inzage-x.json"
    assert world.cli("export", "--author", "ouder3", "--platform", "x", "--out", str(plain)).exit_code == 0
    only_x = json.loads(plain.read_text(encoding="utf-8"))
    assert {p["id"] for p in only_x["posts"]} == {world.posts["p1"], world.posts["p5"]}
    assert all(c["file"] is None for p in only_x["posts"] for c in p["captures"])
    before = out.read_bytes()
    again = world.cli("export", "--author", "ouder3", "--out", str(out))
    assert again.exit_code == 1 and "bestaat al" in again.output
    assert out.read_bytes() == before and len(_audit(world.env, "privacy_export")) == 2


def test_erase_removes_what_may_go_and_explains_what_stays(env_any_db: Env) -> None:
    world = build(env_any_db)
    erased = ("p1", "p4", "p5", "p6")
    with world.env.session() as session:
        before = {m: _count(session, m) for m in (Post, Classification, Capture, Feedback, Outbox, CaseEvent)}

    preview = world.cli("erase", "--author", "ouder3")
    assert preview.exit_code == 0, preview.output
    assert "Proefrun, er is niets gewist" in preview.output and "--yes" in preview.output
    with world.env.session() as session:
        assert {m: _count(session, m) for m in before} == before
    assert all(world.exists(name) for name in world.files)
    assert len(_audit(world.env, "privacy_erase_preview")) == 1

    result = world.cli("erase", "--author", "@Ouder3", "--yes")
    assert result.exit_code == 0, result.output
    ids = ", ".join(str(i) for i in sorted(world.posts[n] for n in erased))
    assert (f"Gewist: 4 bericht(en) ({ids}), 3 classificatie(s), 1 beoordeling(en), 7 opname(s) en 5 bestand(en); "
            f"2 onverzonden e-mail(s) verwijderd, van 1 verzonden e-mail(s) de inhoud gewist.") in result.output
    assert "schoolwacht digest --send" in result.output
    output = " ".join(result.output.split())
    reported, open_case = world.cases["p2"], world.cases["p3"]
    assert f"bericht {world.posts['p2']} (bluesky, " in output
    assert (f"dossier {reported}, status 'aangifte gedaan': de school heeft aangifte gedaan (kenmerk "
            f"PL0100-2026123456, op 01-10-2026)") in output
    assert f"dossier {open_case}, status 'beoordeeld': het dossier is nog open" in output
    assert "(belediging)" in output and "De termijn om aangifte te doen van een klachtdelict loopt af op" in output
    assert output.count("art. 17 lid 3 onder e AVG") == 2
    assert output.count("opnieuw worden gedaan zodra") == 2

    with world.env.session() as session:
        left = set(session.execute(select(Post.id)).scalars())
        assert left == {world.posts[n] for n in ("p2", "p3", "q1", "q2")}
        gone = [world.posts[n] for n in erased]
        for model, column in ((Classification, Classification.post_id), (Capture, Capture.post_id),
                              (Feedback, Feedback.post_id), (CasePost, CasePost.post_id)):
            assert _count(session, model, column.in_(gone)) == 0  # type: ignore[attr-defined]
        assert _count(session, Classification) == before[Classification] - 3
        assert _count(session, Capture) == before[Capture] - 7
        # The emptied open case is closed; the closed one stays closed; both keep their history.
        emptied = session.get(Case, world.cases["p1"])
        assert emptied is not None and emptied.status == "closed" and emptied.closed_at is not None
        assert emptied.thread_key is None
        events = list(session.execute(select(CaseEvent).where(CaseEvent.case_id == emptied.id)
                                      .order_by(CaseEvent.id)).scalars())
        assert [e.action for e in events] == ["opened", "erasure", "status"]
        assert "gewist na verzoek van betrokkene" in events[1].note and events[2].data["to"] == "closed"
        assert "gewist na verzoek van betrokkene" in events[2].note
        closed = session.get(Case, world.cases["p4"])
        assert closed is not None and closed.status == "closed"
        assert session.execute(select(CaseEvent.action).where(CaseEvent.case_id == closed.id)
                               .order_by(CaseEvent.id.desc())).scalars().first() == "erasure"  # type: ignore[union-attr]
        for name, status in (("p2", "reported"), ("p3", "triaged"), ("q2", "new")):
            case = session.get(Case, world.cases[name])
            assert case is not None and case.status == status
            assert _count(session, CasePost, CasePost.case_id == case.id) == 1
        mails = {row.id: row for row in session.execute(select(Outbox)).scalars()}
        assert set(mails) == {world.mails["p4"], world.mails["p3"], world.mails["q1"]}
        sent = mails[world.mails["p4"]]
        assert sent.sent_at is not None and sent.post_id is None and TEXTS["p4"] not in sent.body_text + sent.body_html
        assert "gewist" in sent.body_text and sent.subject.startswith("[Schoolwacht]")
        assert mails[world.mails["p3"]].body_text == f"Bericht: {TEXTS['p3']}"
        # The digest can be made again for the same week: without the erased post.
        assert queue_digest(session, world.settings, now=utcnow() + timedelta(days=7)) == 1
        digest = session.execute(select(Outbox).where(Outbox.kind == "digest")).scalars().one()
        assert TEXTS["p1"] not in digest.body_text and TEXTS["p2"] in digest.body_text

    for name in ("raw-p1", "raw-p4", "raw-p6", "html-p1-p4", "shot-p4"):
        assert not world.exists(name), name
    for name in ("page-p5-q1", "raw-p2", "raw-p3", "raw-q2"):
        assert world.exists(name), name

    [entry] = _audit(world.env, "privacy_erase")
    detail = json.dumps(entry.detail, ensure_ascii=False)
    assert entry.detail["erased_posts"] == sorted(world.posts[n] for n in erased)
    assert entry.detail["kept"] == [{"post_id": world.posts["p2"], "case_id": reported, "reason": "reported"},
                                    {"post_id": world.posts["p3"], "case_id": open_case, "reason": "open_evidence"}]
    assert entry.detail["files"] == 5 and entry.detail["cases_closed"] == [world.cases["p1"]]
    assert "ouder3" not in detail.lower() and not [t for t in TEXTS.values() if t[:20] in detail]
    assert _chain_ok(world.env)


def test_erase_one_platform_then_the_rest_once_the_case_is_closed(env_any_db: Env) -> None:
    world = build(env_any_db)
    only_reddit = world.cli("erase", "--author", "ouder3", "--platform", "Reddit", "--yes")
    assert only_reddit.exit_code == 0, only_reddit.output
    assert f"Gewist: 1 bericht(en) ({world.posts['p6']})" in only_reddit.output and "Bewaard" not in only_reddit.output
    assert not world.exists("raw-p6") and world.exists("raw-p1")

    with world.env.session() as session:
        case = session.get(Case, world.cases["p3"])
        assert case is not None
        _status(session, case, "closed")
    again = world.cli("erase", "--author", "ouder3", "--platform", "bluesky", "--yes")
    assert again.exit_code == 0, again.output
    both = ", ".join(str(i) for i in sorted((world.posts["p3"], world.posts["p4"])))
    assert f"Gewist: 2 bericht(en) ({both})" in again.output
    assert "Bewaard: 1 bericht(en)" in again.output and f"bericht {world.posts['p2']} " in again.output
    with world.env.session() as session:
        assert set(session.execute(select(Post.id).where(Post.platform == "bluesky")).scalars()) == {world.posts["p2"]}
        assert set(session.execute(select(Post.id).where(Post.platform == "x")).scalars()) == {
            world.posts[n] for n in ("p1", "p5", "q1")}
    assert [e.detail["platform"] for e in _audit(world.env, "privacy_erase")] == ["reddit", "bluesky"]
    assert _chain_ok(world.env)


def test_unknown_author_is_answered_and_bad_input_refused(env: Env) -> None:
    world = build(env)
    nobody = world.cli("erase", "--author", "niemand", "--yes")
    assert nobody.exit_code == 0 and "er is niets te wissen" in nobody.output
    out = env.path / "leeg.json"
    assert world.cli("export", "--author", "niemand", "--out", str(out)).exit_code == 0
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["posts"] == [] and "Er zijn geen berichten van deze auteur opgeslagen" in document["explanation"]
    empty = world.cli("erase", "--author", "@", "--yes")
    assert empty.exit_code == 1 and "handle" in empty.output
    with env.session() as session:
        assert _count(session, Post) == 8


def test_a_file_that_cannot_be_deleted_is_named_and_fails_the_command(env: Env, monkeypatch: pytest.MonkeyPatch
                                                                      ) -> None:
    world = build(env)
    stuck = resolve(world.settings.storage.dir, world.files["raw-p6"].path)
    unlink = Path.unlink

    def refuse(self: Path, missing_ok: bool = False) -> None:
        if self == stuck:
            raise PermissionError(13, "Permission denied")
        unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", refuse)
    result = world.cli("erase", "--author", "u/ouder3", "--platform", "reddit", "--yes")
    assert result.exit_code == 1
    assert f"Let op: {world.files['raw-p6'].path}: kon niet worden verwijderd (Permission denied)" in result.output
    assert "1 bestand(en) konden niet worden verwijderd" in result.output
    with env.session() as session:  # the rows are gone all the same: the file is an orphan to remove by hand
        assert session.get(Post, world.posts["p6"]) is None
    assert stuck.exists()


def test_erase_of_really_crawled_posts(env: Env, mockserver: str) -> None:
    """Crawled Mastodon posts share one raw page per request: the pages go with the last post on them."""
    settings = env.write([{"name": "mast", "kind": "mastodon", "base_url": f"{mockserver}/mastodon/n10",
                           "hashtags": ["verkruisen"]}])
    assert env.crawl("mast").returncode == 0
    with env.session() as session:
        posts = list(session.execute(select(Post)).scalars())
        paths = set(session.execute(select(Capture.path)).scalars())
    assert posts and {p.author_handle for p in posts} == {"ouder7@school.social"}
    world = World(env=env, settings=settings)
    result = world.cli("erase", "--author", "@ouder7@school.social", "--platform", "mastodon", "--yes")
    assert result.exit_code == 0, result.output
    assert f"Gewist: {len(posts)} bericht(en)" in result.output
    with env.session() as session:
        assert _count(session, Post) == 0 and _count(session, Capture) == 0
    assert not [p for p in paths if resolve(settings.storage.dir, p).exists()]


# -- retention: the daily job applies the configured policy --------------------------------------

def test_the_daily_retention_job_applies_the_configured_days(env_any_db: Env, monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    """`[retention] unflagged_days` as the scheduler applies it: unflagged posts not in a case go after
    that many days; flagged posts, posts in any case (closed ones too) and unclassified posts stay."""
    settings = env_any_db.write(SOURCES, retention={"unflagged_days": 7})
    world = World(env=env_any_db, settings=settings)
    now = utcnow()
    ages = {"oud": 8, "jong": 6, "gemarkeerd": 8, "gesloten-zaak": 400, "ongeclassificeerd": 8}
    with env_any_db.session() as session:
        for name, days in ages.items():
            fetched = now - timedelta(days=days)
            raw = _blob(world, name, name.encode())
            os.utime(resolve(settings.storage.dir, raw.path), (fetched.timestamp(), fetched.timestamp()))
            post_id = _insert(session, world, name, raw, author=("x", f"auteur-{name}"),
                              text=f"Bericht {name} over BM Verkruisen")
            post = session.get(Post, post_id)
            assert post is not None
            post.fetched_at = fetched
            session.add(post)
            session.flush()
            if name in ("oud", "jong"):
                _classify(session, post_id, "none")
            elif name == "gemarkeerd":
                _classify(session, post_id, "criminal", ("insult",))
            elif name == "gesloten-zaak":
                case = _classify(session, post_id, "negative")
                assert case is not None
                _status(session, case, "closed")
    outcomes: list[tuple[str, str]] = []
    engine = make_engine(settings.database.url)
    runtime = scheduler.Runtime(settings=settings, engine=engine, stop=threading.Event(),
                                on_job=lambda job, outcome: outcomes.append((job, outcome)))
    monkeypatch.setattr(scheduler, "_runtime", runtime)
    try:
        scheduler.retention_job()
    finally:
        engine.dispose()
    assert outcomes == [("retention", "deleted 1 posts, 1 captures, 1 files")]
    with env_any_db.session() as session:
        assert set(session.execute(select(Post.external_id)).scalars()) == {
            f"x-{n}" for n in ("jong", "gemarkeerd", "gesloten-zaak", "ongeclassificeerd")}
    assert not world.exists("oud") and all(world.exists(n) for n in ages if n != "oud")

