"""Dashboard pages: the overview and its chart, the manual report form, the sources page (switch,
run now against the fake Mastodon API), the admin pages for users and the audit log, and that no
route but the login answers without a session."""

from __future__ import annotations

import html
import io
import re
import struct
import zlib
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import unquote

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from classifier import Classifier, load_classifier
from dashboard.routes.overview import current_week
from store import leases
from store.audit import record as audit_record
from store.models import (
    AuditEntry,
    Capture,
    Case,
    CasePost,
    Classification,
    Post,
    School,
    Source,
    User,
    WebSession,
)
from store.overview import DASHBOARD_SWITCH, dashboard_switch, effective_enabled, weekly_counts
from store.types import utcnow
from tests.helpers import web
from tests.helpers.fixtures import Env

ADMIN = "beheer@school.example"
DIRECTOR = "directeur@school.example"
STAFF = "juf.anna@school.example"
OTHER_STAFF = "meester.bob@school.example"
THREAT = "De juf van BM Verkruisen is een vieze heks, ik weet waar ze woont en ik kom haar halen"
FRIENDLY = "Wat een mooie musical bij BM Verkruisen vandaag, complimenten aan alle kinderen!"
_NOTICE = re.compile(r'<p class="notice" role="status">([^<]*)</p>')
_FIELD_ERRORS = re.compile(r'<p class="field-error" role="alert">([^<]*)</p>')


# -- fixtures and helpers ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shared_classifier() -> Classifier:
    """The shipped model, loaded once for this module (the app loads it lazily otherwise)."""
    return load_classifier("builtin")


@pytest.fixture
def site(env_any_db: Env) -> Iterator[Env]:
    env_any_db.write([{"name": "mastodon-m", "kind": "mastodon", "base_url": "http://127.0.0.1:9/mastodon",
                       "hashtags": ["verkruisen"]}])
    for email, role in ((ADMIN, "admin"), (DIRECTOR, "director"), (STAFF, "staff"), (OTHER_STAFF, "staff")):
        web.make_user(env_any_db, email, role)
    yield env_any_db


def logged_in(env: Env, email: str, *, classifier: Classifier | None = None) -> TestClient:
    c = web.client(env.settings())
    if classifier is not None:
        c.app.state.classifier = classifier  # type: ignore[attr-defined]
    web.login(c, email)
    return c


def user_id(env: Env, email: str) -> int:
    with env.session() as session:
        return int(session.execute(select(User.id).where(User.email == email)).scalar_one())


def notice(response: Any) -> str:
    """The Dutch notice carried by a redirect (`?melding=`)."""
    location = response.headers["location"]
    return unquote(location.split("melding=", 1)[1]) if "melding=" in location else ""


def png(size: tuple[int, int] = (60, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "white").save(buffer, format="PNG")
    return buffer.getvalue()


def png_bomb(width: int = 20000, height: int = 20000) -> bytes:
    """A small file whose header claims 400 megapixels (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = zlib.compress(b"\x00" * (width + 1) * 10)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


def audit_actions(env: Env) -> list[str]:
    with env.session() as session:
        return list(session.execute(select(AuditEntry.action).order_by(AuditEntry.id)).scalars())


def report_form(**fields: str) -> dict[str, str]:
    return {"text": THREAT, "url": "https://chat.example/groep/1", "author": "Boze Ouder",
            "platform": "whatsapp", "date": "", "time": "", **fields}


# -- overview ------------------------------------------------------------------------------------

def _seed_overview(env: Env) -> dict[str, int]:
    settings = env.settings()
    now = utcnow()
    week = current_week(now, settings.schedule.timezone)
    this_week = week.start_utc + (now - week.start_utc) / 2
    last_week = week.previous().start_utc + timedelta(days=2)
    staff_id = user_id(env, STAFF)
    with env.session() as session:
        school_id = session.execute(select(School.id)).scalar_one()
        source_id = session.execute(select(Source.id).where(Source.name == "mastodon-m")).scalar_one()
        counter = iter(range(1, 1000))

        def post(created: Any, *severities: str) -> Post:
            n = next(counter)
            row = Post(source_id=source_id, school_id=school_id, platform="mastodon", external_id=f"p{n}",
                       text=f"bericht {n} over Verkruisen", content_sha256=f"{n:064d}", created_at=created)
            session.add(row)
            session.flush()
            for severity in severities:  # in order: the last one is the post's latest classification
                session.add(Classification(post_id=row.id, model="test", version="1",
                                           sentiment="negative" if severity != "none" else "neutral",
                                           severity=severity))
            session.flush()
            return row

        # This week: 4 mentions, 2 flagged (the last post was urgent, then re-classified as none).
        post(this_week, "negative")
        post(this_week, "criminal")
        post(this_week, "none")
        post(this_week, "urgent", "none")
        # Last week: 2 mentions, 1 flagged; long ago: counted nowhere.
        post(last_week, "urgent")
        post(last_week)
        post(week.start_utc - timedelta(weeks=20), "urgent")

        def case(status: str, *, assignee: int | None = None, updated: Any = None, deadline: Any = None,
                 categories: list[str] | None = None) -> int:
            row = Case(school_id=school_id, status=status, severity="criminal", assignee_id=assignee,
                       updated_at=updated or now, deadline=deadline, categories=categories or [])
            session.add(row)
            session.flush()
            return int(row.id)  # type: ignore[arg-type]

        ids = {
            "new_staff": case("new", assignee=staff_id),
            "triaged": case("triaged"),
            "closed": case("closed", updated=now - timedelta(days=30)),
            "stale": case("addressed", updated=now - timedelta(days=10)),
            "deadline": case("triaged", deadline=now + timedelta(days=5), categories=["insult"]),
            "far_deadline": case("triaged", deadline=now + timedelta(days=60), categories=["insult"]),
            "reported": case("reported", updated=now - timedelta(days=40), deadline=now + timedelta(days=3)),
        }
        source = session.execute(select(Source).where(Source.name == "mastodon-m")).scalar_one()
        source.last_error = "HTTP 503 van de server"
        source.last_error_at = now
        session.add(source)
    return ids


def _figures(page: str) -> list[str]:
    return re.findall(r'<span class="ov-number">(\d+)</span>', page)


def test_overview_counts_this_week_cases_and_errors(site: Env) -> None:
    ids = _seed_overview(site)
    director = logged_in(site, DIRECTOR)
    page = director.get("/")
    assert page.status_code == 200
    text = page.text
    # mentions 4 (last week 2), flagged 2 (last week 1), open cases 6 (all but the closed one)
    assert _figures(text) == ["4", "2", "6"]
    assert "vorige week 2 (+2)" in text and "vorige week 1 (+1)" in text
    assert '<a href="/cases?status=triaged">beoordeeld</a></td><td>3</td>' in text
    assert '<a href="/cases?status=reported">aangifte gedaan</a></td><td>1</td>' in text
    assert "gesloten" not in text
    stale_section = text.split("Dossiers zonder actie", 1)[1].split("Termijn voor aangifte", 1)[0]
    assert f'/cases/{ids["stale"]}"' in stale_section
    assert f'/cases/{ids["reported"]}"' not in stale_section  # waits for the police, not the school
    deadline_section = text.split("Termijn voor aangifte", 1)[1].split("Bronnen met fouten", 1)[0]
    assert f'/cases/{ids["deadline"]}"' in deadline_section and "nog 5 dagen" in deadline_section
    assert f'/cases/{ids["far_deadline"]}"' not in deadline_section
    assert f'/cases/{ids["reported"]}"' not in deadline_section  # aangifte already made
    assert "HTTP 503 van de server" in text
    assert '<img class="ov-chart" src="/chart.png" alt="' in text
    assert "<script" not in text and " style=" not in text

    staff = logged_in(site, STAFF)
    text = staff.get("/").text
    assert _figures(text) == ["4", "2", "1"]  # only the case assigned to her
    assert '<a href="/cases?status=new">nieuw</a></td><td>1</td>' in text
    assert "beoordeeld</a>" not in text
    assert f'/cases/{ids["stale"]}"' not in text and f'/cases/{ids["deadline"]}"' not in text
    assert "HTTP 503" not in text  # sources are not staff business
    other = logged_in(site, OTHER_STAFF)
    assert _figures(other.get("/").text) == ["4", "2", "0"]


def test_weekly_counts_in_one_query_per_week_bucket(site: Env) -> None:
    _seed_overview(site)
    week = current_week(utcnow(), "Europe/Amsterdam")
    weeks = [week.previous(n) for n in range(11, -1, -1)]
    with site.session() as session:
        school_id = session.execute(select(School.id)).scalar_one()
        counts = weekly_counts(session, school_ids=[school_id],
                               boundaries=[w.start_utc for w in weeks] + [week.end_utc])[school_id]
    assert len(counts) == 12
    assert [c.total for c in counts[-2:]] == [2, 4]
    assert sum(c.total for c in counts) == 6  # the post of 20 weeks ago is outside the chart
    assert counts[-1].by_sentiment == {"negative": 2, "neutral": 2, "positive": 0, "unrated": 0}
    assert counts[-2].by_sentiment["unrated"] == 1


def test_chart_is_a_png_cached_per_minute(site: Env) -> None:
    _seed_overview(site)
    c = logged_in(site, STAFF)
    first = c.get("/chart.png")
    assert first.status_code == 200 and first.headers["content-type"] == "image/png"
    assert first.content.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(first.content)) as image:
        assert image.format == "PNG" and image.size[0] > 300
    state = c.app.state  # type: ignore[attr-defined]
    assert state.overview_chart[1] == first.content
    for _ in range(3):  # within one minute the same bytes are served (retried if the minute turned)
        minute, cached = state.overview_chart
        assert c.get("/chart.png").status_code == 200
        if state.overview_chart[0] == minute:
            break
    assert state.overview_chart[1] is cached


# -- manual report -------------------------------------------------------------------------------

def test_report_form_shows_platforms_and_needs_no_script(site: Env) -> None:
    c = logged_in(site, STAFF)
    page = c.get("/report")
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in page.text and 'name="screenshot"' in page.text
    assert '<option value="whatsapp" selected>WhatsApp</option>' in page.text
    assert '<input type="hidden" name="school" value="obs BM Verkruisen">' in page.text  # one school: no select
    assert "<script" not in page.text


def test_manual_report_with_screenshot_is_classified_and_opens_a_case(site: Env,
                                                                      shared_classifier: Classifier) -> None:
    c = logged_in(site, DIRECTOR, classifier=shared_classifier)
    token = web.csrf(c, "/report")
    screenshot = png()
    response = c.post("/report", data={**report_form(date="2026-01-05", time="20:15"), "csrf_token": token},
                      files={"screenshot": ("scherm.png", screenshot, "image/png")}, follow_redirects=False)
    assert response.status_code == 303, response.text[:2000]
    location = response.headers["location"]
    assert location.startswith("/cases/")
    assert "Melding opgeslagen" in notice(response) and "dringend" in notice(response)
    case_id = int(location.split("/cases/", 1)[1].split("?", 1)[0])
    with site.session() as session:
        post = session.execute(select(Post).where(Post.platform == "whatsapp")).scalar_one()
        assert post.text == THREAT and post.author_handle == "Boze Ouder"
        assert post.url == "https://chat.example/groep/1"
        assert post.reported_by == user_id(site, DIRECTOR)
        assert post.created_at.isoformat() == "2026-01-05T19:15:00+00:00"  # 20:15 in Amsterdam (winter)
        kinds = sorted(c.kind for c in session.execute(select(Capture).where(Capture.post_id == post.id)).scalars())
        assert kinds == ["raw", "screenshot"]
        shot = session.execute(select(Capture).where(Capture.post_id == post.id,
                                                     Capture.kind == "screenshot")).scalar_one()
        assert shot.media_type == "image/png" and shot.size == len(screenshot)
        classification = session.execute(select(Classification).where(Classification.post_id == post.id)).scalar_one()
        assert classification.severity == "urgent"
        link = session.execute(select(CasePost).where(CasePost.post_id == post.id)).scalar_one()
        assert link.case_id == case_id
        entry = session.execute(select(AuditEntry).where(AuditEntry.action == "manual_report")).scalar_one()
        assert entry.object_type == "post" and entry.object_id == str(post.id)
        assert entry.detail["screenshot"] is True and entry.detail["duplicate"] is False
    assert c.get(location).status_code == 200

    # The same report again is one post, and the notice says so.
    token = web.csrf(c, "/report")
    again = c.post("/report", data={**report_form(date="2026-01-05", time="20:15"), "csrf_token": token},
                   follow_redirects=False)
    assert again.status_code == 303 and "al eerder gedaan" in notice(again)
    with site.session() as session:
        assert len(list(session.execute(select(Post)).scalars())) == 1


def test_staff_report_and_harmless_report(site: Env, shared_classifier: Classifier) -> None:
    staff = logged_in(site, STAFF, classifier=shared_classifier)
    token = web.csrf(staff, "/report")
    response = staff.post("/report", data={**report_form(author="ouder42"), "csrf_token": token},
                          follow_redirects=False)
    # The case is not assigned to her (staff see only assigned cases): back to the overview.
    assert response.status_code == 303 and response.headers["location"].startswith("/?melding=")
    assert "dossier" in notice(response) and "directie" in notice(response)
    harmless = staff.post("/report", data={**report_form(text=FRIENDLY, author="trotse opa", url=""),
                                           "csrf_token": token}, follow_redirects=False)
    assert harmless.status_code == 303 and "geen dossier" in notice(harmless)
    with site.session() as session:
        posts = list(session.execute(select(Post).order_by(Post.id)).scalars())
        assert len(posts) == 2 and all(p.reported_by == user_id(site, STAFF) for p in posts)
        assert len(list(session.execute(select(Classification)).scalars())) == 2
        assert len(list(session.execute(select(CasePost)).scalars())) == 1
    assert audit_actions(site).count("manual_report") == 2


def test_classifier_is_loaded_lazily_once_per_app(env: Env) -> None:
    env.write([])
    web.make_user(env, DIRECTOR, "director")
    c = logged_in(env, DIRECTOR)
    assert getattr(c.app.state, "classifier", None) is None  # type: ignore[attr-defined]
    token = web.csrf(c, "/report")
    response = c.post("/report", data={**report_form(), "csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/cases/")
    loaded = c.app.state.classifier  # type: ignore[attr-defined]
    assert loaded is not None
    c.post("/report", data={**report_form(author="iemand anders"), "csrf_token": token}, follow_redirects=False)
    assert c.app.state.classifier is loaded  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("filename", "data", "message"),
    [
        ("brief.png", b"Dit is geen afbeelding maar tekst", "moet een PNG- of JPEG-afbeelding zijn"),
        ("plaatje.png", b"<svg onload=alert(1)></svg>", "moet een PNG- of JPEG-afbeelding zijn"),
        ("kapot.png", b"\x89PNG\r\n\x1a\n" + b"rommel" * 20, "geen geldige PNG- of JPEG-afbeelding"),
        ("groot.jpg", b"\xff\xd8\xff" + b"\x00" * (10 * 1024 * 1024), "groter dan 10 MB"),
        ("bom.png", png_bomb(), "decompressiebom"),
    ],
    ids=["text", "svg", "corrupt", "oversized", "bomb"],
)
def test_bad_screenshots_are_refused_in_dutch_and_nothing_typed_is_lost(
        site: Env, filename: str, data: bytes, message: str) -> None:
    c = logged_in(site, STAFF)
    token = web.csrf(c, "/report")
    form = report_form(text="Die <b>meester</b> & \"zijn\" klas van Verkruisen", author="Piet <Puk>",
                       platform="facebook", date="2026-01-05", time="08:30")
    response = c.post("/report", data={**form, "csrf_token": token},
                      files={"screenshot": (filename, data, "image/png")})
    assert response.status_code == 400
    errors = [html.unescape(e) for e in _FIELD_ERRORS.findall(response.text)]
    assert len(errors) == 1 and message in errors[0]
    page = response.text
    assert "Die &lt;b&gt;meester&lt;/b&gt; &amp; &#34;zijn&#34; klas van Verkruisen</textarea>" in page
    assert 'value="Piet &lt;Puk&gt;"' in page and 'value="2026-01-05"' in page and 'value="08:30"' in page
    assert 'value="https://chat.example/groep/1"' in page
    assert '<option value="facebook" selected>' in page
    with site.session() as session:
        assert session.execute(select(Post)).first() is None
    assert "manual_report" not in audit_actions(site)


def test_a_request_larger_than_the_limit_is_cut_off(site: Env) -> None:
    c = logged_in(site, STAFF)
    token = web.csrf(c, "/report")
    response = c.post("/report", data={**report_form(), "csrf_token": token},
                      files={"screenshot": ("huge.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * (12 * 1024 * 1024),
                                            "image/png")})
    assert response.status_code == 413
    with site.session() as session:
        assert session.execute(select(Post)).first() is None


@pytest.mark.parametrize("url", ["javascript:alert(1)", "JavaScript:alert(document.cookie)",
                                 "data:text/html,<script>alert(1)</script>", "ftp://example.org/x",
                                 "https://", "//evil.example/x"])
def test_only_http_urls_are_accepted(site: Env, url: str) -> None:
    c = logged_in(site, STAFF)
    token = web.csrf(c, "/report")
    response = c.post("/report", data={**report_form(url=url), "csrf_token": token})
    assert response.status_code == 400
    errors = [html.unescape(e) for e in _FIELD_ERRORS.findall(response.text)]
    assert errors == ["Alleen een webadres dat begint met http:// of https:// is toegestaan."]
    assert html.escape(THREAT, quote=False) in response.text
    with site.session() as session:
        assert session.execute(select(Post)).first() is None


def test_other_field_errors_are_dutch(site: Env) -> None:
    c = logged_in(site, STAFF)
    token = web.csrf(c, "/report")
    response = c.post("/report", data={**report_form(text="   ", platform="myspace", date="2999-01-01"),
                                       "csrf_token": token}, files={"screenshot": ("s.png", png(), "image/png")})
    assert response.status_code == 400
    errors = [html.unescape(e) for e in _FIELD_ERRORS.findall(response.text)]
    assert "Vul de tekst van het bericht in." in errors
    assert "Kies een platform uit de lijst." in errors
    assert "De datum ligt in de toekomst." in errors
    assert any("Kies de schermafbeelding opnieuw" in e for e in errors)  # it was fine, but browsers forget it
    time_only = c.post("/report", data={**report_form(time="10:00"), "csrf_token": token})
    assert "Vul ook de datum in" in time_only.text


def test_report_without_csrf_token_is_refused(site: Env) -> None:
    c = logged_in(site, STAFF)
    response = c.post("/report", data=report_form())
    assert response.status_code == 403
    with site.session() as session:
        assert session.execute(select(Post)).first() is None


# -- sources -------------------------------------------------------------------------------------

def test_sources_page_lists_status_and_switch_works(site: Env) -> None:
    c = logged_in(site, ADMIN)
    page = c.get("/sources")
    assert page.status_code == 200
    assert 'id="bron-mastodon-m"' in page.text and "nog niet gedraaid" in page.text
    assert "handmatig-" in page.text and "gevuld door meldingen" in page.text
    token = web.csrf(c, "/sources")
    off = c.post("/sources/mastodon-m/toggle", data={"csrf_token": token}, follow_redirects=False)
    assert off.status_code == 303 and notice(off) == "Bron mastodon-m staat nu uit."
    with site.session() as session:
        source = session.execute(select(Source).where(Source.name == "mastodon-m")).scalar_one()
        assert source.enabled is False
        assert source.state[DASHBOARD_SWITCH]["enabled"] is False
        assert source.state[DASHBOARD_SWITCH]["config_enabled"] is True
        assert dashboard_switch(source, True) is False  # still applies: the config was not changed
        assert dashboard_switch(source, False) is None  # the config changed since: the config decides
    row = c.get("/sources").text.split('id="bron-mastodon-m"', 1)[1].split("</tr>", 1)[0]
    assert "<td>uit</td>" in row and "Aanzetten" in row
    on = c.post("/sources/mastodon-m/toggle", data={"csrf_token": token}, follow_redirects=False)
    assert notice(on) == "Bron mastodon-m staat nu aan."
    with site.session() as session:
        manual = session.execute(select(Source).where(Source.kind == "manual")).scalar_one()
        assert session.execute(select(Source.enabled).where(Source.name == "mastodon-m")).scalar_one() is True
    refused = c.post(f"/sources/{manual.name}/toggle", data={"csrf_token": token}, follow_redirects=False)
    assert "Handmatige meldingen" in notice(refused)
    assert c.post("/sources/bestaat-niet/toggle", data={"csrf_token": token}).status_code == 404
    assert audit_actions(site).count("source_disabled") == 1 and audit_actions(site).count("source_enabled") == 1


def test_switch_is_kept_in_source_state_across_crawl_state_updates(site: Env) -> None:
    c = logged_in(site, ADMIN)
    token = web.csrf(c, "/sources")
    c.post("/sources/mastodon-m/toggle", data={"csrf_token": token})
    from store.sources import record_crawl

    with site.session() as session:
        source = session.execute(select(Source).where(Source.name == "mastodon-m")).scalar_one()
        record_crawl(session, source_id=source.id, started_at=utcnow(),  # type: ignore[arg-type]
                     state_updates={"tag:verkruisen": "123"}, error=None, new_posts=0)
    with site.session() as session:
        state = session.execute(select(Source.state).where(Source.name == "mastodon-m")).scalar_one()
        assert state["tag:verkruisen"] == "123" and state[DASHBOARD_SWITCH]["enabled"] is False


def test_effective_enabled_keeps_the_switch_until_the_config_changes() -> None:
    source = Source(name="m", school_id=1, kind="mastodon", state={"tag:x": "1"})
    assert effective_enabled(source, True) is True  # no switch: the config decides
    source.state = {**source.state, DASHBOARD_SWITCH: {"enabled": False, "config_enabled": True}}
    assert effective_enabled(source, True) is False  # switched off on the dashboard, config unchanged
    assert effective_enabled(source, False) is False  # the config changed: it decides, the switch goes
    assert DASHBOARD_SWITCH not in source.state and source.state == {"tag:x": "1"}
    assert effective_enabled(source, True) is True  # and an old switch does not come back


def test_run_now_crawls_in_the_background(env_any_db: Env, mockserver: str) -> None:
    env_any_db.write([{"name": "m", "kind": "mastodon", "base_url": f"{mockserver}/mastodon/n50",
                       "hashtags": ["verkruisen"]}])
    web.make_user(env_any_db, ADMIN, "admin")
    c = logged_in(env_any_db, ADMIN)
    token = web.csrf(c, "/sources")
    response = c.post("/sources/m/run", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303 and "gestart" in notice(response)
    thread = c.app.state.crawl_threads["m"]  # type: ignore[attr-defined]
    row = c.get("/sources").text.split('id="bron-m"', 1)[1].split("</tr>", 1)[0]
    if thread.is_alive():
        assert "bezig met ophalen" in row and "Gestart" in row
    thread.join(timeout=180)
    assert not thread.is_alive()
    with env_any_db.session() as session:
        assert len(list(session.execute(select(Post)).scalars())) == 33  # 50 statuses, 2 in 3 mention the school
        source = session.execute(select(Source).where(Source.name == "m")).scalar_one()
        assert source.last_run_at is not None and source.last_error is None
    engine = c.app.state.engine  # type: ignore[attr-defined]
    assert leases.acquire(engine, "job:crawl:m", 60, holder="test")  # released after the run
    # While another process holds the crawl's lease, run now refuses instead of crawling twice.
    again = c.post("/sources/m/run", data={"csrf_token": token}, follow_redirects=False)
    assert "al opgehaald" in notice(again)
    leases.release(engine, "job:crawl:m", holder="test")
    row = c.get("/sources").text.split('id="bron-m"', 1)[1].split("</tr>", 1)[0]
    assert "<td>33</td>" in row and "in orde" in row
    assert audit_actions(env_any_db).count("source_run_now") == 1


# -- roles and sessions --------------------------------------------------------------------------

@pytest.mark.parametrize("email", [STAFF, DIRECTOR])
def test_only_admins_reach_sources_and_admin_pages(site: Env, email: str) -> None:
    c = logged_in(site, email)
    token = web.csrf(c, "/")
    for path in ("/sources", "/admin/users", "/admin/audit"):
        assert c.get(path).status_code == 403, path
    for path in ("/sources/mastodon-m/toggle", "/sources/mastodon-m/run", "/admin/users",
                 f"/admin/users/{user_id(site, ADMIN)}/deactivate"):
        response = c.post(path, data={"csrf_token": token, "email": "x@y.nl", "role": "admin",
                                      "password": "lang-genoeg-wachtwoord"})
        assert response.status_code == 403, path
        assert "Geen toegang" in response.text
    with site.session() as session:
        assert session.execute(select(Source.enabled).where(Source.name == "mastodon-m")).scalar_one() is True
        assert session.execute(select(User).where(User.email == "x@y.nl")).first() is None
    nav = c.get("/").text
    assert 'href="/sources"' not in nav and 'href="/admin/users"' not in nav


def api_routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, set[str]]]:
    """(path, methods) of every API route, also inside included routers (FastAPI >= 0.130 keeps an
    included router as one `_IncludedRouter` entry in `app.routes` instead of copying its routes)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, set(route.methods or ())
        elif hasattr(route, "original_router"):
            context = getattr(route, "include_context", None)
            yield from api_routes(route.original_router.routes, prefix + getattr(context, "prefix", ""))


def test_every_route_but_login_needs_a_session(site: Env) -> None:
    c = web.client(site.settings())
    routes = list(api_routes(c.app.routes))  # type: ignore[attr-defined]
    paths = {path for path, _ in routes}
    for expected in ("/", "/chart.png", "/report", "/sources", "/sources/{name}/toggle", "/sources/{name}/run",
                     "/admin/users", "/admin/users/{user_id}/deactivate", "/admin/users/{user_id}/activate",
                     "/admin/audit", "/logout"):
        assert expected in paths
    checked = 0
    for route_path, methods in routes:
        if route_path == "/login":
            continue
        path = re.sub(r"\{[^}]+\}", "1", route_path)
        for method in sorted(methods - {"HEAD"}):
            response = c.request(method, path, follow_redirects=False)
            assert response.status_code == 303, (method, route_path, response.status_code)
            assert response.headers["location"].startswith("/login?next="), (method, route_path)
            checked += 1
    assert checked >= 14


# -- admin: users ----------------------------------------------------------------------------------

def test_admin_adds_a_user_who_can_log_in(site: Env) -> None:
    c = logged_in(site, ADMIN)
    page = c.get("/admin/users")
    assert page.status_code == 200 and DIRECTOR in page.text and "medewerker" in page.text
    token = web.csrf(c, "/admin/users")
    short = c.post("/admin/users", data={"csrf_token": token, "email": "Nieuw@School.example", "name": "Nina",
                                         "role": "director", "password": "kort"})
    assert short.status_code == 400
    assert "Het wachtwoord moet minstens 10 tekens lang zijn." in short.text
    assert 'value="nieuw@school.example"' in short.text and 'value="Nina"' in short.text
    assert '<option value="director" selected>' in short.text
    bad = c.post("/admin/users", data={"csrf_token": token, "email": "geen-adres", "role": "koning",
                                       "password": "x" * 12})
    assert "Vul een geldig e-mailadres in." in bad.text and "Kies een rol." in bad.text
    added = c.post("/admin/users", data={"csrf_token": token, "email": "Nieuw@School.example", "name": "Nina",
                                         "role": "director", "password": "een-lang-wachtwoord"},
                   follow_redirects=False)
    assert added.status_code == 303 and notice(added) == "Gebruiker nieuw@school.example toegevoegd als directeur."
    with site.session() as session:
        user = session.execute(select(User).where(User.email == "nieuw@school.example")).scalar_one()
        assert user.role == "director" and user.name == "Nina" and user.password_hash.startswith("$argon2")
    newcomer = web.client(site.settings())
    web.login(newcomer, "nieuw@school.example", "een-lang-wachtwoord")
    assert newcomer.get("/").status_code == 200
    entries = [a for a in audit_actions(site) if a.startswith("user_")]
    assert entries == ["user_added"]
    with site.session() as session:
        entry = session.execute(select(AuditEntry).where(AuditEntry.action == "user_added")).scalar_one()
        assert entry.detail == {"email": "nieuw@school.example", "role": "director"}  # never the password


def test_deactivating_a_user_ends_their_sessions(site: Env) -> None:
    staff = logged_in(site, STAFF)
    assert staff.get("/").status_code == 200
    staff_id = user_id(site, STAFF)
    admin = logged_in(site, ADMIN)
    token = web.csrf(admin, "/admin/users")
    with site.session() as session:
        assert session.execute(select(WebSession).where(WebSession.user_id == staff_id)).first() is not None
    response = admin.post(f"/admin/users/{staff_id}/deactivate", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303 and "uitgeschakeld" in notice(response)
    with site.session() as session:
        assert session.execute(select(WebSession).where(WebSession.user_id == staff_id)).first() is None
        assert session.execute(select(User.active).where(User.id == staff_id)).scalar_one() is False
    gone = staff.get("/", follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"].startswith("/login")
    assert "nee" in admin.get("/admin/users").text
    own = admin.post(f"/admin/users/{user_id(site, ADMIN)}/deactivate", data={"csrf_token": token},
                     follow_redirects=False)
    assert "eigen account" in notice(own)
    back = admin.post(f"/admin/users/{staff_id}/activate", data={"csrf_token": token}, follow_redirects=False)
    assert "weer actief" in notice(back)
    assert admin.post("/admin/users/99999/deactivate", data={"csrf_token": token}).status_code == 404
    assert [a for a in audit_actions(site) if a.startswith("user_")] == ["user_deactivated", "user_activated"]


# -- admin: audit log ------------------------------------------------------------------------------

def test_audit_log_is_paginated_newest_first_and_shows_the_chain(site: Env) -> None:
    with site.session() as session:
        for n in range(120):
            audit_record(session, actor="systeem", action="test_entry", object_type="case", object_id=n,
                         detail={"n": n})
    admin = logged_in(site, ADMIN)
    first = admin.get("/admin/audit")
    assert first.status_code == 200
    assert "De keten van het logboek is intact" in first.text
    numbers = [int(n) for n in re.findall(r"<tr><td>(\d+)</td>", first.text)]
    assert len(numbers) == 50 and numbers == sorted(numbers, reverse=True)
    assert first.text.count("audit_viewed") >= 1 and 'href="/admin/audit?pagina=2"' in first.text
    third = admin.get("/admin/audit?pagina=3&actie=test_entry")
    rows = re.findall(r"<tr><td>(\d+)</td>", third.text)
    assert len(rows) == 20 and "Nieuwer" in third.text and "Ouder" not in third.text
    assert '{"n": 19}' in html.unescape(third.text)
    # Someone edits an entry behind Schoolwacht's back: the page says the chain is broken there.
    with site.session() as session:
        entry = session.execute(select(AuditEntry).where(AuditEntry.action == "test_entry")
                                .order_by(AuditEntry.id).limit(1)).scalar_one()
        entry.detail = {"n": 999}
        session.add(entry)
        bad_id = entry.id
    broken = admin.get("/admin/audit").text
    assert "De keten van het logboek is verbroken bij regel" in broken and f"regel {bad_id}" in broken
    assert "audit_viewed" in audit_actions(site)
