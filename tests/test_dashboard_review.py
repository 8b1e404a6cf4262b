"""The review queue (`/review`) and the verdicts on it: order, filters, paging, escaping and
highlighting of hostile posts, confirm/dismiss/correct as Feedback + audit entries, closing a
lone case as a false alarm, roles, CSRF, and `schoolwacht feedback export --jsonl`."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlmodel import Session

from dashboard.routes.review import highlight
from schoolwacht.cli import cli
from store.audit import verify_chain
from store.models import AuditEntry, Case, CaseEvent, CasePost, Classification, Feedback, Post, School, Source
from store.sources import manual_source
from store.types import utcnow
from tests.helpers import web
from tests.helpers.fixtures import SCHOOL, Env

HOSTILE_TEXT = 'Die juf <script>alert("x")</script> is een <img src=x onerror=alert(1)> & "gek" van Verkruisen'
HOSTILE_AUTHOR = '<img src=x onerror=alert(2)>'
_ITEM = re.compile(r'id="bericht-(\d+)"')
_counter = iter(range(1, 10**6))


# --- seeding ---------------------------------------------------------------------------------

def _school(session: Session, name: str = SCHOOL["name"]) -> tuple[int, int]:
    school = session.execute(select(School).where(School.name == name)).scalars().first()
    if school is None:
        school = School(name=name, aliases=[name])
        session.add(school)
        session.flush()
    source = session.execute(select(Source).where(Source.school_id == school.id)).scalars().first()
    source = source or manual_source(session, school=school)
    return int(school.id), int(source.id)  # type: ignore[arg-type]


def _post(session: Session, *, severity: str = "negative", categories: list[str] | None = None,
          sentiment: str = "negative", text: str = "Verkruisen is waardeloos", minutes_ago: int = 60,
          school: str = SCHOOL["name"], explanations: dict[str, Any] | None = None, platform: str = "mastodon",
          author: str = "ouder12", url: str | None = None) -> Post:
    school_id, source_id = _school(session, school)
    n = next(_counter)
    at = utcnow() - timedelta(minutes=minutes_ago)
    post = Post(source_id=source_id, school_id=school_id, platform=platform, external_id=f"r{n}", text=text,
                created_at=at, fetched_at=at, content_sha256=f"{n:064d}", author_name=author,
                url=url if url is not None else f"https://social.example/@x/{n}")
    session.add(post)
    session.flush()
    _classify(session, post, severity=severity, categories=categories or [], sentiment=sentiment,
              explanations=explanations or {})
    return post


def _classify(session: Session, post: Post, *, severity: str, categories: list[str], sentiment: str = "negative",
              explanations: dict[str, Any] | None = None) -> Classification:
    row = Classification(post_id=post.id, model="test", version="1", sentiment=sentiment,  # type: ignore[arg-type]
                         severity=severity, categories=categories, explanations=explanations or {})
    session.add(row)
    session.flush()
    return row


def _case(session: Session, *posts: Post, status: str = "new", severity: str = "negative") -> Case:
    school_id, _ = _school(session)
    case = Case(school_id=school_id, status=status, severity=severity)
    session.add(case)
    session.flush()
    for post in posts:
        session.add(CasePost(case_id=case.id, post_id=post.id))  # type: ignore[arg-type]
    session.flush()
    return case


def _director(env: Env) -> TestClient:
    settings = env.write([])
    web.make_user(env, "directeur@school.example", "director", name="Directeur")
    client = web.client(settings)
    web.login(client, "directeur@school.example")
    return client


def _order(page: str) -> list[int]:
    return [int(i) for i in _ITEM.findall(page)]


def _feedback(env: Env) -> list[Feedback]:
    with env.session() as session:
        return list(session.execute(select(Feedback).order_by(Feedback.id)).scalars())


def _audit(env: Env) -> list[AuditEntry]:
    with env.session() as session:
        assert verify_chain(session).ok
        return list(session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars())


# --- highlighting (pure) ---------------------------------------------------------------------

def _strip(markup: str) -> str:
    return html.unescape(re.sub(r"</?mark[^>]*>", "", markup))


def test_highlight_escapes_every_piece_and_merges_overlaps() -> None:
    text = "<b>jij</b> vuile & rotte juf, ik weet waar je woont"
    spans = {"insult": [{"start": 11, "end": 17, "text": "vuile "}, {"start": 15, "end": 29, "text": text[15:29]}],
             "threat": [{"start": 31, "end": 51, "text": "ik weet waar je woont"},  # stale offsets: found by text
                        {"start": 0, "end": 10, "text": "<b>jij</b>"}],
             "doxing": [{"start": 40, "end": 999}, {"start": "x", "end": 3}, "nonsense"]}
    out = str(highlight(text, spans))
    assert "<b>" not in out and "&lt;b&gt;jij&lt;/b&gt;" in out
    assert out.count("<mark") == out.count("</mark>") == 3
    assert re.search(r"<mark[^>]*>[^<]*<mark", out) is None  # never nested
    assert '<mark class="review-span" title="belediging">vuile &amp; rotte juf,</mark>' in out
    assert '<mark class="review-span" title="bedreiging">ik weet waar je woont</mark>' in out
    assert _strip(out) == text  # nothing lost, nothing added


def test_highlight_touching_spans_of_two_categories_share_one_mark() -> None:
    text = "dood aan die juf"
    out = str(highlight(text, {"threat": [{"start": 0, "end": 4, "text": "dood"}],
                               "insult": [{"start": 4, "end": 16, "text": " aan die juf"}]}))
    assert out == '<mark class="review-span" title="belediging, bedreiging">dood aan die juf</mark>'
    assert str(highlight('a "b" <c>', None)) == "a &#34;b&#34; &lt;c&gt;"


# --- the queue -------------------------------------------------------------------------------

def test_queue_order_by_severity_then_newest_and_filters(env_any_db: Env) -> None:
    client = _director(env_any_db)
    with env_any_db.session() as session:
        negative_new = _post(session, severity="negative", minutes_ago=5)
        urgent_old = _post(session, severity="urgent", categories=["threat"], minutes_ago=500)
        criminal = _post(session, severity="criminal", categories=["insult"], minutes_ago=50)
        urgent_new = _post(session, severity="urgent", categories=["threat"], minutes_ago=30)
        negative_old = _post(session, severity="negative", minutes_ago=900)
        _post(session, severity="none", sentiment="neutral", minutes_ago=1)  # not flagged
        judged = _post(session, severity="criminal", categories=["insult"], minutes_ago=2)
        session.add(Feedback(post_id=judged.id, verdict="confirmed"))  # type: ignore[arg-type]
        reclassified = _post(session, severity="urgent", categories=["threat"], minutes_ago=3)
        _classify(session, reclassified, severity="none", categories=[], sentiment="neutral")  # latest wins
        upgraded = _post(session, severity="none", sentiment="neutral", minutes_ago=40)
        _classify(session, upgraded, severity="criminal", categories=["doxing"])
        elsewhere = _post(session, severity="urgent", categories=["threat"], minutes_ago=10,
                          school="cbs De Bongerd")
        other_id, _ = _school(session, "cbs De Bongerd")
    page = client.get("/review")
    assert page.status_code == 200
    assert _order(page.text) == [elsewhere.id, urgent_new.id, urgent_old.id, upgraded.id, criminal.id,
                                 negative_new.id, negative_old.id]
    assert "7 berichten te beoordelen" in page.text

    assert _order(client.get("/review?ernst=urgent").text) == [elsewhere.id, urgent_new.id, urgent_old.id]
    assert _order(client.get(f"/review?school={other_id}").text) == [elsewhere.id]
    assert _order(client.get(f"/review?school={other_id}&ernst=negative").text) == []
    # Nonsense filters are ignored, never an error.
    assert len(_order(client.get("/review?ernst=none&school=abc&pagina=-3").text)) == 7
    assert f'<option value="{other_id}" selected>cbs De Bongerd</option>' in client.get(
        f"/review?school={other_id}").text


def test_queue_pages_of_fifty(env_any_db: Env) -> None:
    client = _director(env_any_db)
    with env_any_db.session() as session:
        ids = [int(_post(session, minutes_ago=i).id) for i in range(1, 56)]  # type: ignore[arg-type]
    first = client.get("/review")
    assert _order(first.text) == ids[:50]
    assert "pagina 1 van 2" in first.text and 'href="/review?pagina=2"' in first.text
    second = client.get("/review?pagina=2")
    assert _order(second.text) == ids[50:]
    assert 'href="/review"' in second.text  # back to the first page
    assert _order(client.get("/review?pagina=99").text) == ids[50:]  # clamped to the last page


def test_hostile_post_renders_inert_with_highlights_and_details(env_any_db: Env) -> None:
    client = _director(env_any_db)
    start = HOSTILE_TEXT.index("is een")
    with env_any_db.session() as session:
        post = _post(session, severity="urgent", categories=["threat", "insult"], text=HOSTILE_TEXT,
                     author=HOSTILE_AUTHOR, platform="x", url="javascript:alert(3)",
                     explanations={"insult": [{"start": start, "end": start + 40, "source": "model", "rule": None,
                                               "text": HOSTILE_TEXT[start:start + 40]}],
                                   "threat": [{"start": 4, "end": start + 6, "text": HOSTILE_TEXT[4:start + 6],
                                               "source": "rule", "rule": "x"}]})
        case = _case(session, post, severity="urgent")
        linked = _post(session, severity="criminal", categories=["defamation"], minutes_ago=120,
                       url="https://social.example/post/9?a=1&b=2")
    page = client.get("/review").text
    body = page.split("<main>", 1)[1]
    for raw in ("<script", "<img", 'href="javascript', "href='javascript"):
        assert raw not in body, raw
    assert re.search(r"<[^>]*\son\w+=", body) is None  # no tag carries an event handler
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in body
    assert "&lt;img src=x onerror=alert(2)&gt;" in body  # the author
    # The two overlapping spans are one mark naming both categories; the rest of the text is plain.
    marks = re.findall(r'<mark class="review-span" title="([^"]*)">(.*?)</mark>', body, re.S)
    assert len(marks) == 1
    assert marks[0][0] == "belediging, bedreiging"
    assert html.unescape(marks[0][1]) == HOSTILE_TEXT[4:start + 40]
    assert 'class="sev-urgent"' in body and "dringend (bedreiging)" in body
    assert "X (Twitter)" in body
    assert "bedreiging, art. 285 Sr" in body and "belediging, art. 266 Sr" in body
    assert f'href="/cases/{case.id}"' in body
    assert "adres (geen webadres): javascript:alert(3)</span>" in body  # text, never a link
    # A real link: only http(s), with rel, and escaped.
    assert ('<a href="https://social.example/post/9?a=1&amp;b=2" rel="noopener noreferrer" '
            'target="_blank">bericht openen</a>') in body
    assert 'class="sev-criminal"' in body and "smaad/laster, art. 261/262 Sr" in body
    when = re.search(r"(ma|di|wo|do|vr|za|zo) \d{1,2} (jan|feb|mrt|apr|mei|jun|jul|aug|sep|okt|nov|dec) \d{4} "
                     r"\d{2}:\d{2}", body)
    assert when is not None
    assert _order(page) == [post.id, linked.id]


def test_anonymous_and_staff_cannot_review(env_any_db: Env) -> None:
    settings = env_any_db.write([])
    web.make_user(env_any_db, "juf@school.example", "staff")
    with env_any_db.session() as session:
        post = _post(session, severity="criminal", categories=["insult"])
    anonymous = web.client(settings)
    response = anonymous.get("/review", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")

    staff = web.client(settings)
    web.login(staff, "juf@school.example")
    assert staff.get("/review").status_code == 403
    token = web.csrf(staff, "/")
    for action in ("confirm", "dismiss", "correct"):
        refused = staff.post(f"/review/{post.id}/{action}", data={"csrf_token": token, "sentiment": "neutral"},
                             follow_redirects=False)
        assert refused.status_code == 403, action
    assert _feedback(env_any_db) == []
    assert not [e for e in _audit(env_any_db) if e.action.startswith("review_")]


def test_post_without_or_with_wrong_csrf_token_is_refused(env_any_db: Env) -> None:
    client = _director(env_any_db)
    with env_any_db.session() as session:
        post = _post(session, severity="criminal", categories=["insult"])
        case = _case(session, post)
    for data in ({}, {"csrf_token": "wrong"}):
        for action in ("confirm", "dismiss", "correct"):
            response = client.post(f"/review/{post.id}/{action}", data={**data, "sentiment": "neutral"},
                                   follow_redirects=False)
            assert response.status_code == 403, (action, data)
    assert _feedback(env_any_db) == []
    with env_any_db.session() as session:
        assert session.get(Case, case.id).status == "new"  # type: ignore[union-attr]


# --- verdicts --------------------------------------------------------------------------------

def test_confirm_dismiss_and_correct_store_feedback_and_audit(env_any_db: Env) -> None:
    client = _director(env_any_db)
    with env_any_db.session() as session:
        sure = _post(session, severity="urgent", categories=["threat"], minutes_ago=1)
        wrong = _post(session, severity="criminal", categories=["insult"], sentiment="negative", minutes_ago=2)
        mixed = _post(session, severity="criminal", categories=["insult"], minutes_ago=3)
        classifications = {p.id: session.execute(select(Classification.id).where(Classification.post_id == p.id))
                           .scalar_one() for p in (sure, wrong, mixed)}
        user_id = session.execute(select(AuditEntry.actor_id).where(AuditEntry.action == "login")).scalar_one()
    token = web.csrf(client, "/review?ernst=criminal")

    confirmed = client.post(f"/review/{sure.id}/confirm", data={"csrf_token": token, "note": " klopt "},
                            follow_redirects=False)
    assert confirmed.status_code == 303 and confirmed.headers["location"].startswith("/review?melding=")
    dismissed = client.post(f"/review/{wrong.id}/dismiss", data={"csrf_token": token, "ernst": "criminal"},
                            follow_redirects=False)
    assert dismissed.headers["location"].startswith("/review?ernst=criminal&melding=")
    corrected = client.post(f"/review/{mixed.id}/correct", follow_redirects=True,
                            data={"csrf_token": token, "sentiment": "negative",
                                  "categories": ["harassment", "defamation"], "note": "herhaald"})
    assert corrected.status_code == 200
    assert "Labels van bericht" in corrected.text and "smaad of laster, belaging" in corrected.text
    assert _order(corrected.text) == []  # all three judged: the queue is empty

    rows = {f.post_id: f for f in _feedback(env_any_db)}
    assert {k: (v.verdict, v.sentiment, v.categories, v.note, v.user_id, v.classification_id)
            for k, v in rows.items()} == {
        sure.id: ("confirmed", "negative", ["threat"], "klopt", user_id, classifications[sure.id]),
        wrong.id: ("dismissed", "negative", [], "", user_id, classifications[wrong.id]),
        mixed.id: ("corrected", "negative", ["defamation", "harassment"], "herhaald", user_id,
                   classifications[mixed.id]),
    }
    entries = [e for e in _audit(env_any_db) if e.action.startswith("review_")]
    assert [(e.action, e.object_type, e.object_id, e.actor_id) for e in entries] == [
        ("review_confirm", "post", str(sure.id), user_id), ("review_dismiss", "post", str(wrong.id), user_id),
        ("review_correct", "post", str(mixed.id), user_id)]
    assert entries[2].detail["after"] == {"sentiment": "negative", "categories": ["defamation", "harassment"]}
    assert entries[0].actor == "directeur@school.example"


def test_correct_rejects_unknown_labels_and_unknown_posts_are_404(env_any_db: Env) -> None:
    client = _director(env_any_db)
    with env_any_db.session() as session:
        post = _post(session, severity="criminal", categories=["insult"])
        unclassified = Post(source_id=_school(session)[1], school_id=_school(session)[0], platform="rss",
                            external_id="bare", text="x", content_sha256="f" * 64)
        session.add(unclassified)
        session.flush()
    token = web.csrf(client, "/review")
    bad = [{"sentiment": "boos"}, {"sentiment": "negative", "categories": ["insult", "<script>"]}]
    for data in bad:
        response = client.post(f"/review/{post.id}/correct", data={"csrf_token": token, **data})
        assert response.status_code == 400 and "Correctie niet opgeslagen" in response.text
    assert client.post(f"/review/{post.id + 1000}/confirm", data={"csrf_token": token}).status_code == 404
    assert client.post(f"/review/{unclassified.id}/dismiss", data={"csrf_token": token}).status_code == 404
    assert _feedback(env_any_db) == []


def test_dismiss_closes_a_lone_case_but_not_one_with_other_flagged_posts(env_any_db: Env) -> None:
    client = _director(env_any_db)
    with env_any_db.session() as session:
        lone = _post(session, severity="criminal", categories=["insult"], minutes_ago=1)
        lone_case = _case(session, lone)
        first = _post(session, severity="negative", minutes_ago=2)
        second = _post(session, severity="criminal", categories=["insult"], minutes_ago=3)
        calm = _post(session, severity="none", sentiment="neutral", minutes_ago=4)
        shared = _case(session, first, second, calm, status="triaged")
        acted = _post(session, severity="negative", minutes_ago=5)
        acted_case = _case(session, acted, status="addressed")
    token = web.csrf(client, "/review")

    response = client.post(f"/review/{lone.id}/dismiss", data={"csrf_token": token})
    assert f"Dossier {lone_case.id} is gesloten als vals alarm." in response.text
    client.post(f"/review/{first.id}/dismiss", data={"csrf_token": token})
    client.post(f"/review/{acted.id}/dismiss", data={"csrf_token": token})
    with env_any_db.session() as session:
        statuses = {c: session.get(Case, c).status for c in (lone_case.id, shared.id, acted_case.id)}  # type: ignore[union-attr]
        assert statuses == {lone_case.id: "dismissed", shared.id: "triaged", acted_case.id: "addressed"}
        assert session.get(Case, lone_case.id).closed_at is not None  # type: ignore[union-attr]
    # The second flagged post of the shared case is the last one: now the case closes too.
    client.post(f"/review/{second.id}/dismiss", data={"csrf_token": token})
    with env_any_db.session() as session:
        assert session.get(Case, shared.id).status == "dismissed"  # type: ignore[union-attr]
        events = list(session.execute(select(CaseEvent).where(CaseEvent.action == "status")
                                      .order_by(CaseEvent.id)).scalars())
    assert [(e.case_id, e.actor, e.note, e.data["from"], e.data["to"]) for e in events] == [
        (lone_case.id, "directeur@school.example", "Vals alarm (beoordeling)", "new", "dismissed"),
        (shared.id, "directeur@school.example", "Vals alarm (beoordeling)", "triaged", "dismissed")]
    assert all(e.actor_id is not None for e in events)
    closed = [e for e in _audit(env_any_db) if e.action == "case_status"]
    assert [(e.object_type, e.object_id, e.detail["status"]) for e in closed] == [
        ("case", str(lone_case.id), "dismissed"), ("case", str(shared.id), "dismissed")]


def test_a_confirmed_post_keeps_its_case_open(env_any_db: Env) -> None:
    client = _director(env_any_db)
    with env_any_db.session() as session:
        kept = _post(session, severity="criminal", categories=["insult"], minutes_ago=1)
        other = _post(session, severity="negative", minutes_ago=2)
        case = _case(session, kept, other)
    token = web.csrf(client, "/review")
    client.post(f"/review/{kept.id}/confirm", data={"csrf_token": token})
    client.post(f"/review/{other.id}/dismiss", data={"csrf_token": token})
    with env_any_db.session() as session:
        assert session.get(Case, case.id).status == "new"  # type: ignore[union-attr]


# --- export ----------------------------------------------------------------------------------

def test_feedback_export_jsonl(env_any_db: Env, tmp_path: Path) -> None:
    client = _director(env_any_db)
    with env_any_db.session() as session:
        confirmed = _post(session, severity="urgent", categories=["threat", "insult"], platform="facebook",
                          text='Ik "weet" waar je woont 🔪\nregel twee', minutes_ago=1)
        dismissed = _post(session, severity="negative", sentiment="negative", minutes_ago=2)
        corrected = _post(session, severity="criminal", categories=["insult"], minutes_ago=3)
        twice = _post(session, severity="criminal", categories=["doxing"], sentiment="neutral", minutes_ago=4)
    token = web.csrf(client, "/review")
    client.post(f"/review/{confirmed.id}/confirm", data={"csrf_token": token})
    client.post(f"/review/{dismissed.id}/dismiss", data={"csrf_token": token})
    client.post(f"/review/{corrected.id}/correct", data={"csrf_token": token, "sentiment": "neutral"})
    client.post(f"/review/{twice.id}/confirm", data={"csrf_token": token})
    client.post(f"/review/{twice.id}/correct", data={"csrf_token": token, "sentiment": "positive",
                                                     "categories": ["confidential"]})
    ids = {f.post_id: f.id for f in _feedback(env_any_db)}  # the latest verdict per post
    today = datetime.now(UTC).astimezone(__import__("zoneinfo").ZoneInfo("Europe/Amsterdam")).date().isoformat()

    runner = CliRunner()
    target = tmp_path / "feedback.jsonl"
    result = runner.invoke(cli, ["--config", str(env_any_db.config_file), "feedback", "export", "--jsonl",
                                 "--out", str(target)])
    assert result.exit_code == 0, result.output
    assert "4 training examples written" in result.output
    lines = target.read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    assert [list(r) for r in rows] == [["id", "platform", "text", "sentiment", "categories", "note"]] * 4
    by_id = {r["id"]: r for r in rows}
    assert by_id[f"feedback-{ids[confirmed.id]}"] == {
        "id": f"feedback-{ids[confirmed.id]}", "platform": "facebook", "text": confirmed.text,
        "sentiment": "negative", "categories": ["threat", "insult"], "note": f"confirmed by director on {today}"}
    assert (by_id[f"feedback-{ids[dismissed.id]}"]["sentiment"],
            by_id[f"feedback-{ids[dismissed.id]}"]["categories"]) == ("negative", [])
    assert by_id[f"feedback-{ids[dismissed.id]}"]["note"].startswith("dismissed by director on ")
    assert (by_id[f"feedback-{ids[corrected.id]}"]["sentiment"],
            by_id[f"feedback-{ids[corrected.id]}"]["categories"]) == ("neutral", [])
    assert (by_id[f"feedback-{ids[twice.id]}"]["sentiment"],
            by_id[f"feedback-{ids[twice.id]}"]["categories"]) == ("positive", ["confidential"])
    assert "🔪" in lines[0] or "🔪" in "".join(lines)  # UTF-8, not \u escapes

    printed = runner.invoke(cli, ["--config", str(env_any_db.config_file), "feedback", "export", "--jsonl"])
    assert printed.exit_code == 0
    assert [json.loads(line) for line in printed.stdout.splitlines()] == rows
    refused = runner.invoke(cli, ["--config", str(env_any_db.config_file), "feedback", "export"])
    assert refused.exit_code == 2 and "--jsonl" in refused.output

    exports = [e for e in _audit(env_any_db) if e.action == "feedback_export"]
    assert [(e.actor, e.detail["rows"], e.detail["target"]) for e in exports] == [
        ("cli", 4, str(target)), ("cli", 4, "-")]
