"""Cases (`/cases`, `/cases/{id}`) and the rule-4 workflow: walking a case from new to closed,
refused transitions, the police report, the removal request, re-fetching, assigning, notes,
staff seeing only their own cases, filters and search, hostile text, CSRF and the audit chain."""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import select
from sqlmodel import Session

from dashboard.routes.cases import highlight
from store import workflow
from store.audit import verify_chain
from store.cases import open_or_join_case
from store.models import AuditEntry, Case, CaseEvent, CasePost, Classification, Feedback, Post, School, Source
from store.types import utcnow
from tests.helpers import web
from tests.helpers.fixtures import SCHOOL, Env

DIRECTOR = "directeur@school.example"
STAFF = "juf.anna@school.example"
OTHER_STAFF = "meester.bob@school.example"
HOSTILE = 'Die juf <script>alert("x")</script> is een <img src=x onerror=alert(1)> & "gek" van Verkruisen'
HOSTILE_AUTHOR = "<img src=x onerror=alert(2)>"
_counter = iter(range(1, 10**6))
_ROW = re.compile(r'<a href="/cases/(\d+)">#\d+</a>')


# -- seeding -------------------------------------------------------------------------------------

class Site:
    """A real HTTP server on 127.0.0.1: /weg answers 404 (removed), anything else 200."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                status = 404 if self.path.startswith("/weg") else 200
                body = b"<html><body>bericht</body></html>"
                self.send_response(status)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site() -> Iterator[Site]:
    server = Site()
    yield server
    server.close()


def _setup(env: Env, site_base: str = "http://127.0.0.1:9") -> TestClient:
    settings = env.write([{"name": "web-verkruisen", "kind": "web", "urls": [f"{site_base}/pagina"]}])
    web.make_user(env, DIRECTOR, "director", name="Directeur Jansen")
    web.make_user(env, STAFF, "staff", name="Juf Anna")
    web.make_user(env, OTHER_STAFF, "staff", name="Meester Bob")
    return web.client(settings)


def _as(env: Env, email: str) -> TestClient:
    client = web.client(env.settings())
    web.login(client, email)
    return client


def _post(session: Session, *, categories: list[str] | None = None, severity: str | None = None,
          text: str = "Verkruisen is een waardeloze school", author: str | None = None, url: str | None = None,
          explanations: dict[str, Any] | None = None, school: str = SCHOOL["name"]) -> tuple[Post, Case]:
    """A stored, classified post and the case it opened (the way the classifier opens cases)."""
    school_row = session.execute(select(School).where(School.name == school)).scalars().first()
    if school_row is None:
        school_row = School(name=school, aliases=[school])
        session.add(school_row)
        session.flush()
    source_id = session.execute(select(Source.id)).scalars().first()
    n = next(_counter)
    categories = categories or []
    severity = severity or ("urgent" if "threat" in categories else "criminal" if categories else "negative")
    post = Post(source_id=source_id, school_id=school_row.id, platform="mastodon", external_id=f"c{n}",  # type: ignore[arg-type]
                url=url if url is not None else f"https://social.example/@ouder{n}/{n}", text=text,
                author_handle=author or f"ouder{n}", author_name=None, content_sha256=f"{n:064d}")
    session.add(post)
    session.flush()
    classification = Classification(post_id=post.id, model="test", version="1", sentiment="negative",  # type: ignore[arg-type]
                                    severity=severity, categories=categories, explanations=explanations or {})
    session.add(classification)
    session.flush()
    case = open_or_join_case(session, post=post, classification=classification)
    assert case is not None
    return post, case


def _case_with(env: Env, **kwargs: Any) -> int:
    with env.session() as session:
        return int(_post(session, **kwargs)[1].id)  # type: ignore[arg-type]


def _act(client: TestClient, case_id: int, action: str = "status", **form: str) -> str:
    """Submit a case form like the browser does (token from the page); the page it lands on."""
    token = web.csrf(client, f"/cases/{case_id}")
    response = client.post(f"/cases/{case_id}/{action}", data={"csrf_token": token, **form})
    assert response.status_code == 200, response.text[:300]
    return response.text


def _state(env: Env, case_id: int) -> tuple[Case, list[CaseEvent]]:
    with env.session() as session:
        case = session.get(Case, case_id)
        assert case is not None
        events = list(session.execute(select(CaseEvent).where(CaseEvent.case_id == case_id)
                                      .order_by(CaseEvent.id)).scalars())
        return case, events


def _audit(env: Env, action: str | None = None) -> list[AuditEntry]:
    with env.session() as session:
        report = verify_chain(session)
        assert report.ok, report
        rows = session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()
        return [row for row in rows if action is None or row.action == action]


def _listed(page: str) -> list[int]:
    return [int(i) for i in _ROW.findall(page)]


# -- the walk ------------------------------------------------------------------------------------

def test_walk_a_case_from_new_to_closed(env_any_db: Env) -> None:
    _setup(env_any_db)
    case_id = _case_with(env_any_db, categories=["insult"])
    client = _as(env_any_db, DIRECTOR)

    page = client.get(f"/cases/{case_id}").text
    assert "3 maanden vanaf het moment dat de school het bericht kende" in page
    assert "belediging, art. 266 Sr" in page and "Nog " in page
    opened, _ = _state(env_any_db, case_id)

    steps = [("triaged", {}), ("addressed", {"note": "Met de ouder gebeld: poster aangesproken."}),
             ("removal_requested", {"note": "Verzoek gemaild."}),
             ("removed", {"note": "Zelf gekeken: het bericht is weg."}),
             ("corrected", {"url": "https://social.example/@ouder/rectificatie"}), ("closed", {"note": "Klaar."})]
    for to, fields in steps:
        landed = _act(client, case_id, to=to, **fields)
        assert "Status gewijzigd" in landed, to
        assert _state(env_any_db, case_id)[0].status == to

    case, events = _state(env_any_db, case_id)
    status_events = [e for e in events if e.action == "status"]
    assert [(e.data["from"], e.data["to"]) for e in status_events] == [
        ("new", "triaged"), ("triaged", "addressed"), ("addressed", "removal_requested"),
        ("removal_requested", "removed"), ("removed", "corrected"), ("corrected", "closed")]
    assert {e.actor for e in status_events} == {DIRECTOR} and all(e.actor_id for e in status_events)
    assert status_events[1].note == "Met de ouder gebeld: poster aangesproken."
    assert status_events[4].data["url"] == "https://social.example/@ouder/rectificatie"
    assert case.closed_at is not None and case.updated_at > opened.updated_at
    assert events[0].action == "opened"

    audited = _audit(env_any_db, "case_status")
    assert [(a.detail["from"], a.detail["to"]) for a in audited] == [
        (e.data["from"], e.data["to"]) for e in status_events]
    assert {a.object_id for a in audited} == {str(case_id)} and {a.actor for a in audited} == {DIRECTOR}
    assert len(_audit(env_any_db, "case_view")) >= 7  # every page view is recorded

    page = client.get(f"/cases/{case_id}").text
    assert "rectificatie geplaatst" in page and "gesloten" in page
    assert 'href="https://social.example/@ouder/rectificatie"' in page  # the correction's link in the timeline
    assert "poster aangesproken" in page
    assert f'action="/cases/{case_id}/status"' not in page  # a closed case offers no further steps


def test_refused_transitions_store_nothing(env_any_db: Env) -> None:
    _setup(env_any_db)
    case_id = _case_with(env_any_db)
    client = _as(env_any_db, DIRECTOR)
    before = len(_state(env_any_db, case_id)[1])

    for to, fields in [("corrected", {"url": "https://x.example/r"}), ("removed", {"note": "weg"}),
                       ("bogus", {}), ("new", {})]:
        landed = _act(client, case_id, to=to, **fields)
        assert 'class="error"' in landed and "Niet opgeslagen" in landed, to
    _act(client, case_id, to="triaged")
    assert "Beschrijf kort hoe de schrijver is aangesproken" in _act(client, case_id, to="addressed", note="  ")
    _act(client, case_id, to="addressed", note="gesproken")
    _act(client, case_id, to="removal_requested")
    _act(client, case_id, to="removed", note="weg")
    for bad in ("javascript:alert(1)", "ftp://x.example/r", "", "https://"):
        assert "Niet opgeslagen" in _act(client, case_id, to="corrected", url=bad), bad

    case, events = _state(env_any_db, case_id)
    assert case.status == "removed" and len(events) == before + 4
    assert len(_audit(env_any_db, "case_status")) == 4

    _act(client, case_id, to="closed")
    assert "Niet opgeslagen" in _act(client, case_id, to="triaged")  # nothing moves a closed case
    assert "Niet opgeslagen" in _act(client, case_id, to="closed")
    assert _state(env_any_db, case_id)[0].status == "closed"


def test_allowed_targets_follow_rule_4() -> None:
    assert workflow.allowed_targets("new") == ["triaged", "reported", "dismissed", "closed"]
    assert workflow.allowed_targets("removal_requested") == ["removed", "reported", "dismissed", "closed"]
    assert workflow.allowed_targets("corrected") == ["closed", "reported", "dismissed"]
    assert workflow.allowed_targets("reported") == ["removed", "dismissed", "closed"]
    assert workflow.allowed_targets("dismissed") == ["closed"]
    assert workflow.allowed_targets("closed") == []


def test_police_report_needs_date_and_reference(env_any_db: Env) -> None:
    _setup(env_any_db)
    case_id = _case_with(env_any_db, categories=["defamation"])
    client = _as(env_any_db, DIRECTOR)
    today = datetime.now(ZoneInfo("Europe/Amsterdam")).date()
    refused = [({"reported_on": today.isoformat()}, "kenmerk"),
               ({"reference": "PL0100-2026123456"}, "datum"),
               ({"reported_on": "gisteren", "reference": "PL01"}, "datum"),
               ({"reported_on": (today + timedelta(days=2)).isoformat(), "reference": "PL01"}, "toekomst")]
    for fields, word in refused:
        landed = _act(client, case_id, to="reported", **fields)
        assert "Niet opgeslagen" in landed and word in landed, fields
    case, _ = _state(env_any_db, case_id)
    assert case.status == "new" and case.police_reference is None and case.reported_at is None

    day = today - timedelta(days=1)
    _act(client, case_id, to="reported", reported_on=day.isoformat(), reference=" PL0100-2026123456 ")
    case, events = _state(env_any_db, case_id)
    assert case.status == "reported" and case.police_reference == "PL0100-2026123456"
    assert case.reported_at is not None and case.reported_at.astimezone(ZoneInfo("Europe/Amsterdam")).date() == day
    assert events[-1].data == {"from": "new", "to": "reported", "reported_on": day.isoformat(),
                               "reference": "PL0100-2026123456"}
    assert _audit(env_any_db, "case_status")[-1].detail["reference"] == "PL0100-2026123456"
    page = client.get(f"/cases/{case_id}").text
    assert "PL0100-2026123456" in page and "Aangifte is gedaan" in page
    _act(client, case_id, to="closed")
    assert _state(env_any_db, case_id)[0].status == "closed"


def test_dismissed_needs_a_note_and_feeds_back(env_any_db: Env) -> None:
    _setup(env_any_db)
    with env_any_db.session() as session:
        first, case = _post(session, categories=["insult"], author="zelfde")
        second, joined = _post(session, author="zelfde")
        assert joined.id == case.id
        case_id = int(case.id)  # type: ignore[arg-type]
    client = _as(env_any_db, DIRECTOR)
    assert "vals alarm is" in _act(client, case_id, to="dismissed")
    _act(client, case_id, to="dismissed", note="Grapje onder collega's")
    case, _ = _state(env_any_db, case_id)
    assert case.status == "dismissed" and case.closed_at is not None
    with env_any_db.session() as session:
        rows = list(session.execute(select(Feedback).order_by(Feedback.post_id)).scalars())
    assert [(r.post_id, r.verdict, r.categories) for r in rows] == [(first.id, "dismissed", []),
                                                                   (second.id, "dismissed", [])]


# -- the removal request and re-fetching ------------------------------------------------------------

def test_removal_request_message_is_ready_and_escaped(env_any_db: Env) -> None:
    _setup(env_any_db)
    insult = _case_with(env_any_db, categories=["insult"], text=HOSTILE, author=HOSTILE_AUTHOR,
                        url="https://social.example/@boos/77")
    negative = _case_with(env_any_db, text="Wat een slecht georganiseerd feest bij Verkruisen")
    client = _as(env_any_db, DIRECTOR)
    _act(client, insult, to="triaged")
    page = _act(client, insult, to="addressed", note="gebeld")
    match = re.search(r'<textarea class="case-message" readonly rows="16">(.*?)</textarea>', page, re.S)
    assert match, "no removal request on the page"
    message = html.unescape(match.group(1))
    assert message.startswith(f"Beste {HOSTILE_AUTHOR},")
    assert HOSTILE in message and "https://social.example/@boos/77" in message
    assert "protocol social media" in message and "te verwijderen" in message and "correctie" in message
    assert "aangifte" in message and "belediging (art. 266 Sr)" in message
    assert "Directeur Jansen" in message and SCHOOL["name"] in message
    assert "<script>" not in match.group(1) and "&lt;script&gt;" in match.group(1)
    mailto = re.search(r'<a href="(mailto:[^"]+)">', page)
    assert mailto and "<" not in mailto.group(1) and "%3Cscript%3E" in mailto.group(1)

    plain = client.get(f"/cases/{negative}").text
    plain_message = html.unescape(re.search(r'class="case-message"[^>]*>(.*?)</textarea>', plain, re.S).group(1))  # type: ignore[union-attr]
    assert "slecht georganiseerd feest" in plain_message and "aangifte" not in plain_message


def test_recheck_verifies_removal_by_fetching_again(env_any_db: Env, site: Site) -> None:
    _setup(env_any_db, site.base)
    gone = _case_with(env_any_db, categories=["insult"], url=f"{site.base}/weg/1")
    online = _case_with(env_any_db, url=f"{site.base}/nog-online/2")
    client = _as(env_any_db, DIRECTOR)
    for case_id in (gone, online):
        _act(client, case_id, to="triaged")
        _act(client, case_id, to="addressed", note="gesproken")
        _act(client, case_id, to="removal_requested")

    landed = _act(client, gone, "recheck")
    assert "1 bericht(en) gecontroleerd: 1 niet meer online" in landed
    case, events = _state(env_any_db, gone)
    assert case.status == "removed"
    assert [e.action for e in events[-3:]] == ["removed_detected", "status", "recheck"]
    assert events[-3].data["status_code"] == 404 and events[-1].actor == DIRECTOR
    with env_any_db.session() as session:
        post_id = session.execute(select(CasePost.post_id).where(CasePost.case_id == gone)).scalar_one()
        assert session.get(Post, post_id).removed_at is not None  # type: ignore[union-attr]

    landed = _act(client, online, "recheck")
    assert "1 nog online" in landed
    assert _state(env_any_db, online)[0].status == "removal_requested"
    assert [a.object_id for a in _audit(env_any_db, "case_recheck")] == [str(gone), str(online)]

    _act(client, gone, to="closed")
    assert "gesloten dossier" in _act(client, gone, "recheck")


# -- assigning, notes and staff --------------------------------------------------------------------

def _user_id(env: Env, email: str) -> int:
    from store.users import find_user

    with env.session() as session:
        return int(find_user(session, email).id)  # type: ignore[union-attr,arg-type]


def test_staff_see_and_annotate_only_their_own_cases(env_any_db: Env) -> None:
    _setup(env_any_db)
    mine = _case_with(env_any_db, text="Over de musical bij Verkruisen")
    theirs = _case_with(env_any_db, text="Over het schoolreisje bij Verkruisen")
    director = _as(env_any_db, DIRECTOR)
    staff_id = _user_id(env_any_db, STAFF)
    landed = _act(director, mine, "assign", assignee=str(staff_id))
    assert "Toegewezen aan Juf Anna" in landed
    assert "Niet opgeslagen" in _act(director, mine, "assign", assignee=str(staff_id))  # no change
    assert "Niet opgeslagen" in _act(director, theirs, "assign", assignee="999999")
    _act(director, theirs, "assign", assignee=str(_user_id(env_any_db, OTHER_STAFF)))
    assert _audit(env_any_db, "case_assign")[0].detail["assignee_id"] == staff_id

    staff = _as(env_any_db, STAFF)
    listing = staff.get("/cases?toegewezen=geen&status=all").text  # staff cannot widen the list
    assert _listed(listing) == [mine] and "schoolreisje" not in listing
    page = staff.get(f"/cases/{mine}")
    assert page.status_code == 200 and "musical" in page.text
    assert f'action="/cases/{mine}/status"' not in page.text and "case-message" not in page.text

    hidden, missing = staff.get(f"/cases/{theirs}"), staff.get("/cases/999999")
    assert hidden.status_code == missing.status_code == 404
    assert "schoolreisje" not in hidden.text and hidden.text == missing.text  # existence does not leak

    token = web.csrf(staff, f"/cases/{mine}")
    for path, data in [(f"/cases/{mine}/status", {"to": "triaged"}), (f"/cases/{mine}/assign", {"assignee": ""}),
                       (f"/cases/{mine}/recheck", {}), (f"/cases/{theirs}/status", {"to": "triaged"})]:
        assert staff.post(path, data={"csrf_token": token, **data}).status_code == 403, path
    assert staff.post(f"/cases/{theirs}/note", data={"csrf_token": token, "note": "x"}).status_code == 404
    assert _state(env_any_db, mine)[0].status == "new" and _state(env_any_db, theirs)[0].status == "new"

    landed = _act(staff, mine, "note", note="Ik ken deze ouder, ik spreek hem morgen aan.")
    assert "Notitie toegevoegd" in landed and "ik spreek hem morgen aan" in landed
    note = _state(env_any_db, mine)[1][-1]
    assert (note.action, note.actor, note.actor_id) == ("note", STAFF, staff_id)
    assert _audit(env_any_db, "case_note")[-1].actor == STAFF
    assert "Niet opgeslagen" in _act(staff, mine, "note", note="   ")


# -- list, filters, search ----------------------------------------------------------------------

def test_list_filters_search_sort_and_pages(env_any_db: Env) -> None:
    _setup(env_any_db)
    with env_any_db.session() as session:
        negative = int(_post(session, text="Slecht feest bij Verkruisen", author="feestganger")[1].id)  # type: ignore[arg-type]
        urgent = int(_post(session, categories=["threat"], text="Ik steek Verkruisen in brand")[1].id)  # type: ignore[arg-type]
        insult = int(_post(session, categories=["insult"], text="Die juf van Verkruisen is dom 100%_")[1].id)  # type: ignore[arg-type]
        elsewhere = int(_post(session, text="Bongerd is ook niks", school="cbs De Bongerd")[1].id)  # type: ignore[arg-type]
        stale = session.get(Case, negative)
        stale.updated_at = utcnow() - timedelta(days=5)  # type: ignore[union-attr]  # new for 5 days: overdue
        session.add(stale)
        bongerd = session.execute(select(School.id).where(School.name == "cbs De Bongerd")).scalar_one()
    client = _as(env_any_db, DIRECTOR)
    page = client.get("/cases").text
    assert _listed(page) == [urgent, insult, elsewhere, negative]  # severity first, then last update
    assert "belediging" in page and "art. 266 Sr" in page and "nog 9" in page  # days left (3 months ≈ 90)
    assert "beoordelen" in page and "te laat" in page  # next step; overdue marker

    assert _listed(client.get("/cases?ernst=urgent").text) == [urgent]
    assert _listed(client.get("/cases?zoek=BRAND").text) == [urgent]
    assert _listed(client.get("/cases?zoek=feestganger").text) == [negative]  # the author
    assert _listed(client.get("/cases?zoek=100%25_").text) == [insult]  # wildcards are literal
    assert _listed(client.get("/cases?zoek=%25").text) == [insult]
    assert _listed(client.get(f"/cases?zoek=%23{urgent}").text) == [urgent]
    assert _listed(client.get("/cases?te_laat=1").text) == [negative]
    assert _listed(client.get(f"/cases?school={bongerd}").text) == [elsewhere]
    assert _listed(client.get("/cases?toegewezen=mij").text) == []
    assert len(_listed(client.get("/cases?toegewezen=geen").text)) == 4
    assert len(_listed(client.get("/cases?ernst=nonsense&status=nonsense&school=x&pagina=-1").text)) == 4

    _act(client, urgent, to="dismissed", note="vals alarm")
    assert urgent not in _listed(client.get("/cases").text)
    assert _listed(client.get("/cases?status=dismissed").text) == [urgent]
    assert len(_listed(client.get("/cases?status=all").text)) == 4
    _act(client, insult, "assign", assignee=str(_user_id(env_any_db, DIRECTOR)))
    assert _listed(client.get("/cases?toegewezen=mij").text) == [insult]


def test_list_pages(env_any_db: Env) -> None:
    _setup(env_any_db)
    with env_any_db.session() as session:
        ids = [int(_post(session)[1].id) for _ in range(5)]  # type: ignore[arg-type]
        first = workflow.find_cases(session, query=workflow.CaseQuery(), page=1, per_page=2)
        last = workflow.find_cases(session, query=workflow.CaseQuery(), page=9, per_page=2)
    assert (first.total, first.pages, first.page) == (5, 3, 1)
    assert [r.case.id for r in first.rows] == ids[::-1][:2] and [r.case.id for r in last.rows] == ids[:1]
    assert all(r.posts == 1 and r.school == SCHOOL["name"] and r.assignee is None for r in first.rows)


def test_deadline_warning_under_fourteen_days(env_any_db: Env) -> None:
    _setup(env_any_db)
    case_id = _case_with(env_any_db, categories=["harassment"])
    with env_any_db.session() as session:
        case = session.get(Case, case_id)
        case.learned_at = utcnow() - timedelta(days=85)  # type: ignore[union-attr]
        case.deadline = utcnow() + timedelta(days=5)  # type: ignore[union-attr]
        session.add(case)
    client = _as(env_any_db, DIRECTOR)
    assert 'class="warning">nog 5 dagen' in client.get("/cases").text
    assert "case-deadline warning" in client.get(f"/cases/{case_id}").text
    assert _listed(client.get("/cases?te_laat=1").text) == [case_id]


# -- hostile text, CSRF ------------------------------------------------------------------------------

def test_hostile_text_renders_inert(env_any_db: Env) -> None:
    _setup(env_any_db)
    start = HOSTILE.index("is een")
    case_id = _case_with(env_any_db, categories=["insult"], text=HOSTILE, author=HOSTILE_AUTHOR,
                         url="javascript:alert(3)",
                         explanations={"insult": [{"start": start, "end": start + 40,
                                                   "text": HOSTILE[start:start + 40]}]})
    client = _as(env_any_db, DIRECTOR)
    _act(client, case_id, "note", note='<script>alert("note")</script>')
    for path in (f"/cases/{case_id}", f"/cases?zoek={HOSTILE_AUTHOR[:4]}"):
        body = client.get(path).text.split("<main>", 1)[1]
        for raw in ("<script", "<img", "javascript:"):
            assert raw not in body, (path, raw)
    page = client.get(f"/cases/{case_id}").text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert f'<mark title="belediging">{escape(HOSTILE[start:start + 40])}</mark>' in page
    assert "&lt;script&gt;alert(&#34;note&#34;)&lt;/script&gt;" in page


def test_highlight_is_safe_markup() -> None:
    text = "<b>jij</b> vuile & rotte juf"
    out = str(highlight(text, {"insult": [{"start": 11, "end": 16, "text": "vuile"},
                                          {"start": 14, "end": 22, "text": text[14:22]}],
                               "threat": [{"start": 0, "end": 99, "text": "<b>jij</b>"}, "rommel",
                                          {"start": "x", "end": 2}]}))
    assert out == ('<mark title="bedreiging">&lt;b&gt;jij&lt;/b&gt;</mark> '
                   '<mark title="belediging">vuile &amp; rot</mark>te juf')
    assert str(highlight("a <c>", None)) == "a &lt;c&gt;"


def test_junk_ids_and_pages_are_not_found_not_errors(env_any_db: Env) -> None:
    _setup(env_any_db)
    case_id = _case_with(env_any_db)
    client = _as(env_any_db, DIRECTOR)
    for path in ("/cases/abc", "/cases/99999999999999", "/cases/%D9%A1", "/cases/-1", f"/cases/{case_id}x"):
        response = client.get(path)
        assert response.status_code == 404 and "Niet gevonden" in response.text, path
    token = web.csrf(client, "/cases")
    assert client.post("/cases/abc/note", data={"csrf_token": token, "note": "x"}).status_code == 404
    assert _listed(client.get("/cases?pagina=abc").text) == [case_id]
    assert _listed(client.get("/cases?pagina=99999999999999999").text) == [case_id]


def test_post_without_csrf_is_refused(env_any_db: Env) -> None:
    _setup(env_any_db)
    case_id = _case_with(env_any_db)
    client = _as(env_any_db, DIRECTOR)
    before = _state(env_any_db, case_id)
    audit_before = len(_audit(env_any_db))
    for data in ({"to": "triaged"}, {"to": "triaged", "csrf_token": "vervalst"}):
        response = client.post(f"/cases/{case_id}/status", data=data)
        assert response.status_code == 403 and "Formulier verlopen" in response.text
    assert client.post(f"/cases/{case_id}/note", data={"note": "x"}).status_code == 403
    assert client.post(f"/cases/{case_id}/assign", data={"assignee": ""}).status_code == 403
    after = _state(env_any_db, case_id)
    assert after[0].status == "new" and after[0].updated_at == before[0].updated_at
    assert len(after[1]) == len(before[1]) and len(_audit(env_any_db)) == audit_before
    # Not logged in at all: to the login page, nothing shown.
    anonymous = web.client(env_any_db.settings())
    assert anonymous.get(f"/cases/{case_id}", follow_redirects=False).status_code == 303
    assert anonymous.get("/cases", follow_redirects=False).headers["location"].startswith("/login")


def test_audit_chain_verifies_after_everything(env_any_db: Env) -> None:
    _setup(env_any_db)
    case_id = _case_with(env_any_db, categories=["insult"])
    client = _as(env_any_db, DIRECTOR)
    _act(client, case_id, to="triaged")
    _act(client, case_id, "note", note="eerste notitie")
    _act(client, case_id, "assign", assignee=str(_user_id(env_any_db, STAFF)))
    _act(client, case_id, to="reported", reported_on=datetime.now(UTC).date().isoformat(), reference="PL-1")
    _act(client, case_id, to="closed")
    entries = _audit(env_any_db)  # verifies the chain
    actions = [e.action for e in entries]
    for action in ("case_view", "case_status", "case_note", "case_assign"):
        assert action in actions
