"""Immediate alerts to the director, received by a real SMTP server (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import Session

from alerts.notify import queue_alerts
from alerts.outbox import flush
from store.cases import open_or_join_case
from store.classifications import add_classification
from store.config import Settings
from store.models import Case, Classification, Outbox, Post, School, Source
from tests.helpers.fixtures import Env
from tests.helpers.smtp import SmtpServer

DIRECTORS = ["directeur@school.example", "adjunct@school.example"]
POSTED = datetime(2026, 11, 23, 13, 5, tzinfo=UTC)  # Monday 14:05 in Amsterdam
THREAT = "Morgen kom ik naar BM Verkruisen en dan steek ik die juf neer."


def _write(env: Env, port: int, **sections: Any) -> Settings:
    mail = {"host": "127.0.0.1", "port": port, "sender": "schoolwacht@school.example",
            "director": DIRECTORS, "timeout_seconds": 5, **sections.pop("mail", {})}
    return env.write([], mail=mail, dashboard={"base_url": "https://wacht.school.example/"}, **sections)


def _post(session: Session, *, text: str = THREAT, severity: str = "urgent",
          categories: tuple[str, ...] = ("threat",), explanations: dict[str, Any] | None = None,
          author_handle: str | None = "@boze_ouder@mastodon.social", author_name: str | None = "Boze Ouder",
          url: str | None = "https://mastodon.social/@boze_ouder/1234",
          platform: str = "mastodon") -> tuple[Post, Classification, Case]:
    school = session.execute(select(School)).scalars().one()
    source = session.execute(select(Source).where(Source.school_id == school.id)).scalars().first()
    assert source is not None
    post = Post(source_id=source.id, school_id=school.id, platform=platform,  # type: ignore[arg-type]
                external_id=uuid.uuid4().hex, url=url, author_handle=author_handle, author_name=author_name,
                text=text, created_at=POSTED, fetched_at=POSTED + timedelta(minutes=3),
                content_sha256="0" * 64)
    session.add(post)
    session.flush()
    if explanations is None:
        explanations = {}
        for category in categories:
            word = {"threat": "steek ik die juf neer", "insult": "waardeloze"}.get(category)
            if word and word in text:
                start = text.index(word)
                explanations[category] = [{"start": start, "end": start + len(word), "text": word,
                                           "source": "rule", "rule": f"{category}.test"}]
    classification = add_classification(
        session, post_id=post.id, model="builtin", version="test", language="nl",  # type: ignore[arg-type]
        sentiment="negative", sentiment_score=0.95, scores={c: 0.91 for c in categories},
        categories=list(categories), explanations=explanations, severity=severity)
    case = open_or_join_case(session, post=post, classification=classification)
    assert case is not None
    return post, classification, case


def _parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def test_urgent_alert_reaches_every_director_once(env_any_db: Env, smtp_server: SmtpServer) -> None:
    settings = _write(env_any_db, smtp_server.port)
    with env_any_db.session() as session:
        post, classification, case = _post(session)
        assert queue_alerts(session, settings, post=post, classification=classification, case=case) == 2
        # Queued again (a restart, a second classification run): nothing new.
        assert queue_alerts(session, settings, post=post, classification=classification, case=case) == 0
        post_id, case_id = post.id, case.id

    report = flush(settings)
    assert (report.sent, report.retried, report.failed) == (2, 0, 0)
    assert flush(settings).sent == 0
    envelopes = smtp_server.envelopes
    assert sorted(r for e in envelopes for r in e.rcpt_tos) == sorted(DIRECTORS)
    assert all(e.mail_from == "schoolwacht@school.example" for e in envelopes)

    message = envelopes[0].message
    assert message["Subject"] == "[Schoolwacht] URGENT: mogelijke bedreiging over obs BM Verkruisen"
    assert message.get_content_type() == "multipart/alternative"
    text, html = _parts(message)
    for body in (text, html):
        assert "112 bij acuut gevaar, anders 0900-8844" in body
        assert "obs BM Verkruisen" in body
        assert "Mastodon" in body
        assert "Boze Ouder (@boze_ouder@mastodon.social)" in body
        assert "ma 23 nov 2026 14:05" in body  # Europe/Amsterdam
        assert "https://mastodon.social/@boze_ouder/1234" in body
        assert "bedreiging" in body and "art. 285 Sr" in body
        assert "steek ik die juf neer" in body
        assert f"https://wacht.school.example/cases/{case_id}" in body
        assert "Spreek de schrijver aan" in body and "correctie" in body
        assert "aangifte" in body
    assert "> Morgen kom ik naar BM Verkruisen" in text
    assert '<mark style="background:#ffe08a;">steek ik die juf neer</mark>' in html
    assert f'<a href="https://wacht.school.example/cases/{case_id}"' in html

    with env_any_db.session() as session:
        rows = session.execute(select(Outbox).order_by(Outbox.id)).scalars().all()
        assert [r.dedup_key for r in rows] == [f"alert:post:{post_id}:{d}" for d in DIRECTORS]
        assert all(r.sent_at is not None and r.attempts == 1 and r.post_id == post_id and r.case_id == case_id
                   for r in rows)


def test_mail_server_down_then_up_every_alert_arrives_once(env_any_db: Env, smtp_server_factory: Any) -> None:
    server: SmtpServer = smtp_server_factory(start=False)
    settings = _write(env_any_db, server.port, alerts={"retry_base_seconds": 60, "retry_max_seconds": 600})
    with env_any_db.session() as session:
        for text in (THREAT, THREAT + " Echt waar.", THREAT + " Let maar op."):
            post, classification, case = _post(session, text=text)
            queue_alerts(session, settings, post=post, classification=classification, case=case)

    now = datetime.now(UTC)
    report = flush(settings, now=now)
    assert (report.sent, report.retried, report.failed) == (0, 6, 0)
    assert report.error is not None and f"127.0.0.1:{server.port}" in report.error
    with env_any_db.session() as session:
        rows = session.execute(select(Outbox)).scalars().all()
        assert len(rows) == 6
        for row in rows:
            assert row.sent_at is None and row.failed_at is None and row.attempts == 1
            assert abs((row.next_attempt_at - now).total_seconds() - 60) < 1
            assert f"127.0.0.1:{server.port}" in (row.last_error or "")
    # Not due yet: the back-off holds, nothing is attempted.
    assert flush(settings, now=now + timedelta(seconds=30)).retried == 0

    server.start()
    # Mails queued meanwhile join the same flush.
    with env_any_db.session() as session:
        post, classification, case = _post(session, text=THREAT + " Nog een.")
        assert queue_alerts(session, settings, post=post, classification=classification, case=case) == 2
    report = flush(settings, now=now + timedelta(seconds=61))
    assert (report.sent, report.retried, report.failed) == (8, 0, 0)
    assert flush(settings, now=now + timedelta(hours=2)).sent == 0
    # Re-queueing every post after a "restart" adds nothing.
    with env_any_db.session() as session:
        for post in session.execute(select(Post)).scalars():
            row = session.execute(select(Classification).where(Classification.post_id == post.id)).scalars().one()
            assert queue_alerts(session, settings, post=post, classification=row, case=None) == 0
    assert flush(settings, now=now + timedelta(hours=3)).sent == 0

    keys = [m["X-Schoolwacht-Outbox"] for m in server.messages]
    assert len(keys) == 8 and len(set(keys)) == 8
    assert len({m["Message-ID"] for m in server.messages}) == 8


def test_hostile_post_text_is_inert(env: Env, smtp_server: SmtpServer) -> None:
    settings = _write(env, smtp_server.port)
    hostile = ('<script>alert("x")</script> <img src=x onerror=alert(1)> BM Verkruisen is '
               'waardeloze troep & "zo"\r\nBcc: slachtoffer@example.com')
    with env.session() as session:
        post, classification, case = _post(
            session, text=hostile, severity="criminal", categories=("insult",),
            author_handle="evil\r\nBcc: slachtoffer@example.com", author_name="<b>Jan</b>\nTo: x@example.com",
            url="javascript:alert(document.cookie)")
        queue_alerts(session, settings, post=post, classification=classification, case=case)
    assert flush(settings).sent == 2

    assert sorted(r for e in smtp_server.envelopes for r in e.rcpt_tos) == sorted(DIRECTORS)
    for envelope in smtp_server.envelopes:
        message = envelope.message
        assert message["Bcc"] is None and message.get_all("To") == [envelope.rcpt_tos[0]]
        assert b"\nBcc:" not in envelope.raw.split(b"\r\n\r\n", 1)[0]
        assert message["Subject"] == "[Schoolwacht] Mogelijk strafbaar bericht over obs BM Verkruisen"
        text, html = _parts(message)
        assert "<script" not in html and "<img" not in html and "<b>" not in html
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
        assert "&lt;img src=x onerror=alert(1)&gt;" in html
        assert "troep &amp; &#34;zo&#34;" in html
        assert 'href="javascript' not in html and "javascript:alert(document.cookie)" in html
        assert "&lt;b&gt;Jan&lt;/b&gt; To: x@example.com (evil Bcc: slachtoffer@example.com)" in html
        # The plain text keeps the text as written, quoted line by line.
        assert '> <script>alert("x")</script>' in text
        assert "> Bcc: slachtoffer@example.com" in text


def test_criminal_alert_names_article_spans_and_complaint_period(env: Env, smtp_server: SmtpServer) -> None:
    settings = _write(env, smtp_server.port, mail={"director": ["directeur@school.example"]})
    text = "Die nieuwe juf van BM Verkruisen is een waardeloze trut."
    with env.session() as session:
        post, classification, case = _post(session, text=text, severity="criminal", categories=("insult",))
        queue_alerts(session, settings, post=post, classification=classification, case=case)
        deadline = case.deadline
    assert deadline is not None
    flush(settings)
    (message,) = smtp_server.messages
    assert message["Subject"] == "[Schoolwacht] Mogelijk strafbaar bericht over obs BM Verkruisen"
    plain, html = _parts(message)
    assert "- belediging (belediging, art. 266 Sr), zekerheid 91%" in plain
    assert 'Aanleiding: „waardeloze"' in plain
    assert "klachtdelict" in plain and "binnen 3 maanden" in plain
    assert "uiterlijk ma 23 feb 2026" not in plain  # the date is the real deadline, not a fixed one
    assert "uiterlijk di 23 feb 2027" in plain  # fetched 23 nov 2026 + 3 months
    assert "112" not in plain and "0900-8844" not in plain
    assert "Overweeg aangifte bij de politie (belediging)" in html


@pytest.mark.parametrize(("severity", "immediate", "expected"), [
    ("negative", ["urgent", "criminal"], 0),
    ("negative", ["urgent", "criminal", "negative"], 1),
    ("criminal", ["urgent"], 0),
])
def test_only_immediate_severities_are_mailed(env: Env, severity: str, immediate: list[str],
                                               expected: int) -> None:
    settings = _write(env, 2525, mail={"director": ["directeur@school.example"]}, alerts={"immediate": immediate})
    categories = () if severity == "negative" else ("insult",)
    with env.session() as session:
        post, classification, case = _post(session, text="BM Verkruisen is waardeloos.", severity=severity,
                                           categories=categories)
        assert queue_alerts(session, settings, post=post, classification=classification, case=case) == expected
        if expected:
            row = session.execute(select(Outbox)).scalars().one()
            assert row.subject == "[Schoolwacht] Negatief bericht over obs BM Verkruisen"


def test_one_mail_per_address_and_none_without_directors(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    settings = _write(env, 2525, mail={"director": ["Directeur@School.example", "directeur@school.example ", ""]})
    with env.session() as session:
        post, classification, case = _post(session)
        assert queue_alerts(session, settings, post=post, classification=classification, case=case) == 1
        row = session.execute(select(Outbox)).scalars().one()
        assert row.recipient == "Directeur@School.example"
        assert row.dedup_key == f"alert:post:{post.id}:directeur@school.example"

    nobody = _write(env, 2525, mail={"director": []})
    with env.session() as session:
        post, classification, case = _post(session, text=THREAT + " Nu echt.")
        assert queue_alerts(session, nobody, post=post, classification=classification, case=case) == 0
    assert "lists no recipients" in caplog.text
