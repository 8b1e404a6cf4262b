"""The weekly digest: week boundaries, counts, chart, cases with the complaint period, escaping,
the HTML file and sending through a real SMTP server (aiosmtpd on 127.0.0.1,
tests/helpers/smtp.py)."""

from __future__ import annotations

import base64
import io
import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from dateutil.relativedelta import relativedelta
from PIL import Image
from sqlalchemy import select
from sqlmodel import Session

from alerts.digest import CHART_CID, build_digest, digest_week, queue_digest
from schoolwacht.cli import cli
from store.models import Case, CasePost, Classification, Outbox, Post, School, Source
from store.types import utcnow
from tests.helpers.fixtures import SCHOOL, Env
from tests.helpers.smtp import SmtpServer

AMS = ZoneInfo("Europe/Amsterdam")
# Monday 07:30 local: the default digest time; covers week 47 (16 t/m 22 nov 2026).
NOW = datetime(2026, 11, 23, 7, 30, tzinfo=AMS)
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> juf & "meester" van Verkruisen'


# --- seeding ---------------------------------------------------------------------------------

_counter = iter(range(1, 10**6))


def _ids(session: Session) -> tuple[int, int]:
    school = session.execute(select(School).where(School.name == SCHOOL["name"])).scalars().one()
    source = session.execute(select(Source).where(Source.school_id == school.id)).scalars().first()
    assert source is not None
    return school.id, source.id  # type: ignore[return-value]


def _post(session: Session, at: datetime, *, platform: str = "mastodon", text: str = "Verkruisen bericht",
          sentiment: str | None = None, severity: str = "none", url: str | None = None,
          author: str = "iemand") -> Post:
    school_id, source_id = _ids(session)
    n = next(_counter)
    post = Post(source_id=source_id, school_id=school_id, platform=platform, external_id=f"p{n}",
                text=text, created_at=at.astimezone(UTC), fetched_at=at.astimezone(UTC),
                content_sha256=f"{n:064d}", url=url or f"https://example.org/p/{n}", author_name=author)
    session.add(post)
    session.flush()
    if sentiment is not None:
        _classify(session, post, sentiment, severity)
    return post


def _classify(session: Session, post: Post, sentiment: str, severity: str = "none",
              categories: list[str] | None = None) -> None:
    session.add(Classification(post_id=post.id, model="test", version="1",  # type: ignore[arg-type]
                               sentiment=sentiment, severity=severity, categories=categories or []))
    session.flush()


def _case(session: Session, *, status: str, severity: str, categories: list[str], opened_at: datetime,
          deadline: datetime | None = None, posts: tuple[Post, ...] = (), **extra: Any) -> Case:
    school_id, _ = _ids(session)
    learned = (deadline - relativedelta(months=3)) if deadline else opened_at
    case = Case(school_id=school_id, status=status, severity=severity, categories=categories,
                articles=[], opened_at=opened_at.astimezone(UTC), updated_at=opened_at.astimezone(UTC),
                learned_at=learned.astimezone(UTC),
                deadline=deadline.astimezone(UTC) if deadline else None, **extra)
    session.add(case)
    session.flush()
    for post in posts:
        session.add(CasePost(case_id=case.id, post_id=post.id))  # type: ignore[arg-type]
    session.flush()
    return case


def _png_ok(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) < 100_000
    with Image.open(io.BytesIO(data)) as image:
        image.verify()
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        return image.size


# --- the week --------------------------------------------------------------------------------

def test_week_is_the_iso_week_before_now_in_amsterdam() -> None:
    week = digest_week(NOW)
    assert (week.iso_year, week.iso_week, week.key) == (2026, 47, "2026-W47")
    assert week.start == datetime(2026, 11, 16, tzinfo=AMS) and week.end == datetime(2026, 11, 23, tzinfo=AMS)
    assert week.start_utc == datetime(2026, 11, 15, 23, tzinfo=UTC)
    assert week.label == "week 47 (16 t/m 22 nov 2026)"
    # Sunday late evening still belongs to the week before; Monday 00:30 local (Sunday in UTC) not.
    assert digest_week(datetime(2026, 11, 22, 23, 59, tzinfo=AMS)).iso_week == 46
    assert digest_week(datetime(2026, 11, 22, 23, 30, tzinfo=UTC)).iso_week == 47
    assert digest_week(datetime(2026, 11, 29, 23, 59, tzinfo=AMS)).iso_week == 47


def test_week_boundaries_across_dst_and_new_year() -> None:
    autumn = digest_week(datetime(2026, 10, 26, 7, 30, tzinfo=AMS))  # clocks went back on 25 Oct
    assert autumn.iso_week == 43 and autumn.label == "week 43 (19 t/m 25 okt 2026)"
    assert autumn.start_utc == datetime(2026, 10, 18, 22, tzinfo=UTC)  # CEST, UTC+2
    assert autumn.end_utc == datetime(2026, 10, 25, 23, tzinfo=UTC)  # CET, UTC+1
    assert autumn.end_utc - autumn.start_utc == timedelta(hours=169)
    spring = digest_week(datetime(2026, 3, 30, 7, 30, tzinfo=AMS))  # clocks went forward on 29 Mar
    assert spring.iso_week == 13 and spring.label == "week 13 (23 t/m 29 mrt 2026)"
    assert spring.end_utc - spring.start_utc == timedelta(hours=167)
    assert spring.end_utc == datetime(2026, 3, 29, 22, tzinfo=UTC)
    year = digest_week(datetime(2027, 1, 4, 7, 30, tzinfo=AMS))
    assert (year.iso_year, year.iso_week) == (2026, 53)
    assert year.label == "week 53 (28 dec 2026 t/m 3 jan 2027)"
    months = digest_week(datetime(2026, 11, 2, 7, 30, tzinfo=AMS))
    assert months.label == "week 44 (26 okt t/m 1 nov 2026)"
    with pytest.raises(ValueError):
        digest_week(datetime(2026, 11, 23, 7, 30))


def test_posts_counted_in_the_right_week_across_dst(env_any_db: Env) -> None:
    settings = env_any_db.write([])
    now = datetime(2026, 10, 26, 7, 30, tzinfo=AMS)
    with env_any_db.session() as session:
        _post(session, datetime(2026, 10, 18, 23, 59, tzinfo=AMS), sentiment="neutral")  # week 42
        _post(session, datetime(2026, 10, 19, 0, 0, tzinfo=AMS), sentiment="neutral")  # first instant of 43
        _post(session, datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=AMS), sentiment="neutral")  # repeated hour
        _post(session, datetime(2026, 10, 25, 23, 59, tzinfo=AMS), sentiment="neutral")  # last minute of 43
        _post(session, datetime(2026, 10, 26, 0, 0, tzinfo=AMS), sentiment="neutral")  # week 44: not yet
    with env_any_db.session() as session:
        digest = build_digest(session, settings, now=now)
    school = digest.schools[0]
    assert (digest.iso_year, digest.iso_week) == (2026, 43)
    assert school.this_week.total == 3 and school.last_week.total == 1
    assert [sum(w.values()) for w in school.weekly[-2:]] == [1, 3]


# --- counts, chart ---------------------------------------------------------------------------

def test_counts_by_sentiment_and_platform_against_last_week(env_any_db: Env) -> None:
    settings = env_any_db.write([])
    with env_any_db.session() as session:
        mid = datetime(2026, 11, 18, 12, tzinfo=AMS)
        _post(session, mid, platform="mastodon", sentiment="negative", severity="negative")
        _post(session, mid, platform="mastodon", sentiment="negative", severity="negative")
        _post(session, mid, platform="mastodon", sentiment="positive")
        _post(session, mid, platform="rss", sentiment="neutral")
        _post(session, mid, platform="facebook")  # not classified yet
        reclassified = _post(session, mid, platform="bluesky", sentiment="negative", severity="negative")
        _classify(session, reclassified, "positive")  # a newer model: the latest row counts
        for _ in range(2):
            _post(session, datetime(2026, 11, 12, 9, tzinfo=AMS), platform="mastodon", sentiment="neutral")
        _post(session, datetime(2026, 9, 30, 9, tzinfo=AMS), platform="rss", sentiment="negative",
              severity="negative")  # 8 weeks back: only in the chart
        _post(session, datetime(2026, 8, 1, 9, tzinfo=AMS), platform="rss", sentiment="positive")  # too old
    with env_any_db.session() as session:
        digest = build_digest(session, settings, now=NOW)

    school = digest.schools[0]
    assert school.name == SCHOOL["name"]
    assert school.this_week.total == 6 and school.last_week.total == 2
    assert school.this_week.by_sentiment == {"negative": 2, "neutral": 1, "positive": 2, "unrated": 1}
    assert school.last_week.by_sentiment == {"negative": 0, "neutral": 2, "positive": 0, "unrated": 0}
    assert school.this_week.by_platform == {"mastodon": 3, "rss": 1, "facebook": 1, "bluesky": 1}
    assert school.last_week.by_platform == {"mastodon": 2}
    rows = {r.label: (r.this_week, r.last_week, r.difference) for r in school.sentiment_rows}
    assert rows == {"negatief": (2, 0, "+2"), "neutraal": (1, 2, "-1"), "positief": (2, 0, "+2"),
                    "nog niet beoordeeld": (1, 0, "+1")}
    platforms = {r.label: (r.this_week, r.last_week) for r in school.platform_rows}
    assert platforms == {"Mastodon": (3, 2), "nieuws en blogs (RSS)": (1, 0), "Facebook": (1, 0),
                         "Bluesky": (1, 0)}
    assert school.platform_rows[0].label == "Mastodon"

    # 12 weeks, oldest first, ending with the digest week.
    assert len(school.weekly) == 12 and school.weekly_labels[-1] == "wk 47" and school.weekly_labels[0] == "wk 36"
    assert school.weekly[-1] == school.this_week.by_sentiment
    assert school.weekly[-8]["negative"] == 1 and sum(sum(w.values()) for w in school.weekly) == 9
    width, height = _png_ok(digest.chart_png)
    assert width > 300 and height > 100

    assert digest.subject == "Schoolwacht weekoverzicht week 47 (16 t/m 22 nov 2026)"
    assert "6 vermeldingen deze week (vorige week: 2)" in digest.text
    assert "nog niet beoordeeld" in digest.text and "Mastodon" in digest.text
    assert "6</strong> vermeldingen deze week" in digest.html_mail
    assert f'src="cid:{CHART_CID}"' in digest.html_mail and "data:image" not in digest.html_mail
    assert 'src="data:image/png;base64,' in digest.html_file and "cid:" not in digest.html_file


# --- cases -----------------------------------------------------------------------------------

def test_new_and_open_cases_with_next_step_and_complaint_days(env_any_db: Env) -> None:
    settings = env_any_db.write([], dashboard={"base_url": "https://wacht.school.example/"})
    this_week = datetime(2026, 11, 17, 10, tzinfo=AMS)
    earlier = datetime(2026, 10, 1, 10, tzinfo=AMS)
    with env_any_db.session() as session:
        post = _post(session, this_week, sentiment="negative", severity="urgent")
        threat = _case(session, status="new", severity="urgent", categories=["threat"], opened_at=this_week,
                       posts=(post,))
        insult = _case(session, status="triaged", severity="criminal", categories=["insult"], opened_at=earlier,
                       deadline=NOW + timedelta(days=23))
        defamation = _case(session, status="removal_requested", severity="criminal",
                           categories=["defamation", "doxing"], opened_at=earlier, deadline=NOW + timedelta(days=5))
        stalking = _case(session, status="addressed", severity="criminal", categories=["harassment"],
                         opened_at=earlier, deadline=NOW - timedelta(days=2))
        reported = _case(session, status="reported", severity="criminal", categories=["insult"],
                         opened_at=earlier, deadline=NOW + timedelta(days=3), police_reference="PL0100-2026",
                         reported_at=datetime(2026, 11, 20, 9, tzinfo=AMS))
        negative = _case(session, status="removed", severity="negative", categories=[], opened_at=earlier)
        corrected = _case(session, status="corrected", severity="negative", categories=[], opened_at=earlier)
        _case(session, status="closed", severity="criminal", categories=["insult"], opened_at=earlier)
        dismissed = _case(session, status="dismissed", severity="negative", categories=[], opened_at=this_week)
        ids = {name: c.id for name, c in [("threat", threat), ("insult", insult), ("defamation", defamation),
                                          ("stalking", stalking), ("reported", reported), ("negative", negative),
                                          ("corrected", corrected), ("dismissed", dismissed)]}
    with env_any_db.session() as session:
        digest = build_digest(session, settings, now=NOW)
    school = digest.schools[0]
    new = {c.id: c for c in school.new_cases}
    open_ = {c.id: c for c in school.open_cases}
    assert set(new) == {ids["threat"], ids["dismissed"]}
    assert set(open_) == {ids[n] for n in ("insult", "defamation", "stalking", "reported", "negative", "corrected")}

    t = new[ids["threat"]]
    assert (t.status_nl, t.next_step, t.severity_nl, t.posts) == ("nieuw", "beoordelen", "dringend (bedreiging)", 1)
    assert t.complaint_note is None and t.url == f"https://wacht.school.example/cases/{ids['threat']}"
    assert t.categories == [("bedreiging", "bedreiging, art. 285 Sr")]
    assert new[ids["dismissed"]].status_nl == "vals alarm"

    i = open_[ids["insult"]]
    assert (i.status_nl, i.next_step, i.days_left, i.warning) == ("beoordeeld", "schrijver aanspreken", 23, False)
    assert i.complaint_note.startswith("nog 23 dagen om aangifte te doen")  # type: ignore[union-attr]
    assert i.categories == [("belediging", "belediging, art. 266 Sr")]
    d = open_[ids["defamation"]]
    assert (d.next_step, d.days_left, d.warning) == ("controleren of het weg is", 5, True)
    assert ("smaad of laster", "smaad/laster, art. 261/262 Sr") in d.categories
    s = open_[ids["stalking"]]
    assert (s.next_step, s.warning) == ("verwijdering vragen", True)
    assert s.days_left is not None and s.days_left < 0 and "verstreken" in s.complaint_note  # type: ignore[operator]
    r = open_[ids["reported"]]
    assert (r.next_step, r.warning, r.days_left) == ("wacht op politie", False, None)
    assert r.complaint_note == "aangifte gedaan op vr 20 nov 2026 (kenmerk PL0100-2026)"
    assert open_[ids["negative"]].next_step == "rectificatie vragen"
    assert open_[ids["negative"]].complaint_note is None
    assert open_[ids["corrected"]].next_step == "afsluiten"
    # Most severe first, then the closest complaint deadline.
    assert [c.id for c in school.open_cases][:3] == [ids["stalking"], ids["defamation"], ids["insult"]]

    assert "nog 23 dagen om aangifte te doen" in digest.text
    assert "LET OP! Aangiftetermijn (klachtdelict): nog 5 dagen om aangifte te doen" in digest.text
    assert "Let op! Aangiftetermijn (klachtdelict): de termijn om aangifte te doen is verstreken" in digest.html_mail
    assert "Volgende stap: Wacht op politie" in digest.text
    assert f"https://wacht.school.example/cases/{ids['insult']}" in digest.html_file
    assert "Nieuwe zaken deze week (2)" in digest.text and "Openstaande zaken (6)" in digest.text


# --- negative posts, escaping ----------------------------------------------------------------

def test_unalerted_negative_posts_listed_and_hostile_text_escaped(env_any_db: Env) -> None:
    settings = env_any_db.write([])
    at = datetime(2026, 11, 19, 20, 15, tzinfo=AMS)
    with env_any_db.session() as session:
        hostile = _post(session, at, sentiment="negative", severity="negative", text=HOSTILE,
                        url="javascript:alert(1)", author="<b>boos</b>")
        alerted = _post(session, at, sentiment="negative", severity="criminal", text="Gemaild Verkruisen")
        failed = _post(session, at, sentiment="negative", severity="criminal", text="Mislukt Verkruisen")
        _post(session, at, sentiment="positive", text="Leuk feest bij Verkruisen")
        _post(session, at - timedelta(days=7), sentiment="negative", severity="negative", text="Vorige week")
        long = _post(session, at, sentiment="negative", severity="negative", text="Verkruisen " + "lang " * 100)
        case = _case(session, status="new", severity="criminal", categories=["insult"], opened_at=at, posts=(failed,),
                     deadline=at + relativedelta(months=3))
        for post, failed_at in ((alerted, None), (failed, utcnow())):
            session.add(Outbox(dedup_key=f"alert:post:{post.id}:d@x", kind="alert", recipient="d@x",
                               subject="s", post_id=post.id, failed_at=failed_at))
        session.flush()
        hostile_id, failed_id, long_id, case_id = hostile.id, failed.id, long.id, case.id
    with env_any_db.session() as session:
        digest = build_digest(session, settings, now=NOW)
    listed = {p.id: p for p in digest.schools[0].negative_posts}
    assert set(listed) == {hostile_id, failed_id, long_id}
    assert listed[hostile_id].url is None and listed[hostile_id].when == "do 19 nov 2026 20:15"
    assert listed[failed_id].case_url == f"http://127.0.0.1:8000/cases/{case_id}"
    assert listed[failed_id].severity_nl == "mogelijk strafbaar"
    assert len(listed[long_id].excerpt) <= 201 and listed[long_id].excerpt.endswith("…")

    for html in (digest.html_mail, digest.html_file):
        assert "<script>" not in html and "<img src=x" not in html and "<b>boos</b>" not in html
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in html
        assert "juf &amp; &#34;meester&#34;" in html and "&lt;b&gt;boos&lt;/b&gt;" in html
        assert "javascript:" not in html
        assert "Negatieve berichten die niet direct zijn gemaild (3)" in html
    assert HOSTILE in digest.text  # plain text is not HTML: shown as written
    assert "Gemaild Verkruisen" not in digest.text and "Vorige week" not in digest.text


def test_empty_week_gives_a_friendly_digest(env_any_db: Env) -> None:
    settings = env_any_db.write([])
    with env_any_db.session() as session:
        digest = build_digest(session, settings, now=NOW)
    school = digest.schools[0]
    assert school.this_week.total == 0 and school.weekly == [dict.fromkeys(school.weekly[0], 0)] * 12
    assert "Een rustige week" in digest.text and "geen berichten over obs BM Verkruisen gevonden" in digest.text
    assert "Een rustige week" in digest.html_mail
    assert "Geen nieuwe zaken deze week." in digest.text
    _png_ok(digest.chart_png)

    # No school row in the database yet (config never synced): still a digest, not an error.
    with env_any_db.session() as session:
        other = settings.model_copy(update={"schools": [*settings.schools, settings.schools[0].model_copy(
            update={"name": "Nog niet gesynchroniseerd"})]})
        digest = build_digest(session, other, now=NOW)
    assert [s.name for s in digest.schools] == [SCHOOL["name"], "Nog niet gesynchroniseerd"]
    _png_ok(digest.chart_png)


def test_queue_digest_once_per_recipient_and_week(env_any_db: Env) -> None:
    settings = env_any_db.write([], mail={"director": ["Directeur@School.example", "adjunct@school.example"]})
    with env_any_db.session() as session:
        _post(session, datetime(2026, 11, 18, 12, tzinfo=AMS), sentiment="neutral")
    with env_any_db.session() as session:
        assert queue_digest(session, settings, now=NOW) == 2
    with env_any_db.session() as session:
        # Later the same week (a restart, a second scheduler): nothing new.
        assert queue_digest(session, settings, now=NOW + timedelta(days=2)) == 0
        assert queue_digest(session, settings, now=NOW + timedelta(days=7)) == 2
        rows = session.execute(select(Outbox).order_by(Outbox.id)).scalars().all()
    assert [r.dedup_key for r in rows] == [
        "digest:2026-W47:directeur@school.example", "digest:2026-W47:adjunct@school.example",
        "digest:2026-W48:directeur@school.example", "digest:2026-W48:adjunct@school.example"]
    assert {r.kind for r in rows} == {"digest"}
    assert rows[0].recipient == "Directeur@School.example"
    assert rows[0].subject.startswith("Schoolwacht weekoverzicht week 47")
    [attachment] = rows[0].attachments
    assert attachment["cid"] == CHART_CID and attachment["content_type"] == "image/png"
    _png_ok(base64.b64decode(attachment["data"]))

    no_directors = settings.model_copy(update={"mail": settings.mail.model_copy(update={"director": []})})
    with env_any_db.session() as session:
        assert queue_digest(session, no_directors, now=NOW) == 0


# --- the command -----------------------------------------------------------------------------

def _last_week_post(env: Env, **kwargs: Any) -> None:
    week = digest_week(utcnow())
    with env.session() as session:
        _post(session, week.start + timedelta(days=2, hours=10), **kwargs)


def test_cli_digest_prints_text_and_writes_self_contained_html(env_any_db: Env, tmp_path: Path) -> None:
    env_any_db.write([])
    _last_week_post(env_any_db, sentiment="negative", severity="negative", text=HOSTILE)
    args = ["--config", str(env_any_db.config_file), "digest"]
    runner = CliRunner()

    printed = runner.invoke(cli, args)
    assert printed.exit_code == 0, printed.output
    assert printed.output.startswith("WEEKOVERZICHT SCHOOLWACHT") and "1 vermelding deze week" in printed.output

    target = tmp_path / "weekoverzicht.html"
    result = runner.invoke(cli, [*args, "--html", str(target)])
    assert result.exit_code == 0, result.output
    assert f"written to {target}" in result.output
    html = target.read_text(encoding="utf-8")
    match = re.search(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert match is not None and "cid:" not in html
    _png_ok(base64.b64decode(match.group(1)))
    assert "&lt;script&gt;" in html and "<script>" not in html
    with env_any_db.session() as session:
        assert session.execute(select(Outbox)).first() is None  # --html alone sends nothing


def _parts(message: EmailMessage) -> dict[str, list[EmailMessage]]:
    parts: dict[str, list[EmailMessage]] = {}
    for part in message.walk():
        parts.setdefault(part.get_content_type(), []).append(part)  # type: ignore[arg-type]
    return parts


def test_cli_digest_send_through_smtp_once_per_week(env_any_db: Env, smtp_server: SmtpServer,
                                                    tmp_path: Path) -> None:
    env_any_db.write([], mail={"host": "127.0.0.1", "port": smtp_server.port, "sender": "schoolwacht@school.example",
                               "director": ["directeur@school.example", "Adjunct@School.example"]})
    _last_week_post(env_any_db, sentiment="negative", severity="negative", text=HOSTILE, platform="reddit")
    week = digest_week(utcnow())
    args = ["--config", str(env_any_db.config_file), "digest", "--send"]
    runner = CliRunner()

    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "2 new mails queued, 2 mails sent" in result.output
    assert sorted(r for e in smtp_server.envelopes for r in e.rcpt_tos) == ["Adjunct@School.example",
                                                                             "directeur@school.example"]
    for message in smtp_server.messages:
        assert message["Subject"] == f"Schoolwacht weekoverzicht {week.label}"
        assert message.get_content_type() == "multipart/alternative"
        parts = _parts(message)
        assert "multipart/related" in parts
        [text] = parts["text/plain"]
        [html] = parts["text/html"]
        [image] = parts["image/png"]
        body = html.get_content()
        cid = re.search(r'<img src="cid:([^"]+)"', body)
        assert cid is not None and image["Content-ID"] == f"<{cid.group(1)}>"
        assert image.get_content_disposition() == "inline"
        _png_ok(image.get_content())
        assert "&lt;script&gt;" in body and "<script>" not in body
        assert "1 vermelding deze week" in text.get_content() and "Reddit" in text.get_content()

    # Again the same week, now also with --html: the file is written, no mail goes out twice.
    target = tmp_path / "digest.html"
    again = runner.invoke(cli, [*args, "--html", str(target)])
    assert again.exit_code == 0, again.output
    assert "0 new mails queued, 0 mails sent" in again.output
    assert len(smtp_server.messages) == 2
    assert "data:image/png;base64," in target.read_text(encoding="utf-8")
    with env_any_db.session() as session:
        rows = session.execute(select(Outbox)).scalars().all()
    assert len(rows) == 2 and all(r.sent_at is not None for r in rows)
    assert {r.dedup_key for r in rows} == {f"digest:{week.key}:directeur@school.example",
                                           f"digest:{week.key}:adjunct@school.example"}


def test_cli_digest_send_without_directors_fails_clearly(env: Env) -> None:
    env.write([])
    result = CliRunner().invoke(cli, ["--config", str(env.config_file), "digest", "--send"])
    assert result.exit_code != 0
    assert "no director address" in result.output
