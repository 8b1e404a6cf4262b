"""The outbox against a real SMTP server (aiosmtpd on 127.0.0.1): retries with back-off,
refused recipients, STARTTLS + AUTH LOGIN, the lease, the message format and the CLI."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from alerts.outbox import flush, message_id
from store import outbox as store_outbox
from store.config import Settings
from store.db import make_engine
from store.leases import acquire
from store.models import Outbox
from tests.helpers.fixtures import ROOT, Env
from tests.helpers.smtp import SmtpServer, free_port, self_signed_cert

DIRECTOR = "directeur@school.example"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def _write(env: Env, port: int, **sections: Any) -> Settings:
    mail = {"host": "127.0.0.1", "port": port, "sender": "schoolwacht@school.example",
            "director": [DIRECTOR], "timeout_seconds": 5, **sections.pop("mail", {})}
    return env.write([], mail=mail, **sections)


def _queue(env: Env, *keys: str, recipient: str = DIRECTOR, **extra: Any) -> None:
    with env.session() as session:
        for key in keys:
            store_outbox.enqueue(session, dedup_key=key, kind="alert", recipient=recipient,
                                 subject=extra.get("subject", f"Onderwerp {key}"),
                                 body_text=f"Tekst {key}", body_html=f"<p>HTML {key}</p>",
                                 attachments=extra.get("attachments", ()))


def _rows(env: Env) -> list[Outbox]:
    with env.session() as session:
        return list(session.execute(select(Outbox).order_by(Outbox.id)).scalars())


def test_enqueue_is_idempotent_and_status_counts(env_any_db: Env) -> None:
    _write(env_any_db, 2525)
    with env_any_db.session() as session:
        assert store_outbox.enqueue(session, dedup_key="k1", kind="alert", recipient=DIRECTOR, subject="a",
                                    body_text="t", body_html="<p>h</p>")
        assert not store_outbox.enqueue(session, dedup_key="k1", kind="alert", recipient=DIRECTOR,
                                        subject="b", body_text="t", body_html="")
        assert store_outbox.enqueue(session, dedup_key="k2", kind="digest", recipient=DIRECTOR, subject="c",
                                    body_text="t", body_html="", now=datetime(2026, 1, 1, tzinfo=UTC))
    with env_any_db.session() as session:
        now = datetime.now(UTC)
        assert [r.dedup_key for r in store_outbox.due(session, now, 10)] == ["k2", "k1"]
        k1, k2 = sorted(store_outbox.due(session, now, 10), key=lambda r: r.dedup_key)
        store_outbox.mark_retry(session, k1.id, error="server weg", next_attempt_at=now + timedelta(minutes=5),  # type: ignore[arg-type]
                                now=now - timedelta(seconds=1))
        store_outbox.mark_failed(session, k2.id, error="ontvanger bestaat niet", now=now)  # type: ignore[arg-type]
        assert store_outbox.due(session, now, 10) == []
        status = store_outbox.status(session)
    assert status["pending"] == 1 and status["sent"] == 0 and status["failed"] == 1
    assert status["oldest_pending_at"] is not None and status["oldest_pending_at"].tzinfo is not None
    assert status["last_error"] == "ontvanger bestaat niet"
    assert abs((status["last_error_at"] - now).total_seconds()) < 1
    with env_any_db.session() as session:
        assert store_outbox.mark_sent(session, k1.id)  # type: ignore[arg-type]
        assert not store_outbox.mark_sent(session, k1.id)  # exactly once
        assert not store_outbox.mark_sent(session, k2.id)  # a failed mail stays failed  # type: ignore[arg-type]
        assert store_outbox.status(session)["sent"] == 1


def test_message_has_both_parts_inline_image_and_a_stable_message_id(env: Env, smtp_server: SmtpServer) -> None:
    settings = _write(env, smtp_server.port)
    html = '<p>Grafiek:</p><img src="cid:grafiek@schoolwacht" alt="grafiek">'
    with env.session() as session:
        store_outbox.enqueue(session, dedup_key="digest:2026-W48:" + DIRECTOR, kind="digest", recipient=DIRECTOR,
                             subject="Weekoverzicht\r\nBcc: indringer@example.com", body_text="Weekoverzicht",
                             body_html=html,
                             attachments=[store_outbox.inline_image("grafiek@schoolwacht", PNG, filename="g.png")])
    assert flush(settings).sent == 1
    (received,) = smtp_server.envelopes
    message = received.message
    assert received.rcpt_tos == [DIRECTOR]
    assert message["Subject"] == "Weekoverzicht Bcc: indringer@example.com" and message["Bcc"] is None
    assert message["From"] == "Schoolwacht <schoolwacht@school.example>"
    assert message["Message-ID"] == message_id("digest:2026-W48:" + DIRECTOR, "schoolwacht@school.example")
    assert message["Message-ID"].endswith("@school.example>")
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    plain, related = message.iter_parts()
    assert plain.get_content_type() == "text/plain" and plain.get_content().strip() == "Weekoverzicht"
    assert related.get_content_type() == "multipart/related"
    html_part, image = related.iter_parts()
    assert html_part.get_content_type() == "text/html" and 'src="cid:grafiek@schoolwacht"' in html_part.get_content()
    assert image.get_content_type() == "image/png" and image["Content-ID"] == "<grafiek@schoolwacht>"
    assert image.get_content_disposition() == "inline" and image.get_content() == PNG
    # The same row sent again (a crash before its commit) carries the same Message-ID.
    assert message_id("digest:2026-W48:" + DIRECTOR, "schoolwacht@school.example") == message["Message-ID"]


def test_back_off_doubles_until_capped_then_gives_up(env: Env) -> None:
    port = free_port()  # nothing listens here
    settings = _write(env, port, alerts={"retry_base_seconds": 10, "retry_max_seconds": 15, "max_attempts": 3})
    _queue(env, "a")
    now = datetime.now(UTC)
    assert flush(settings, now=now).retried == 1
    (row,) = _rows(env)
    assert row.attempts == 1 and row.next_attempt_at == now + timedelta(seconds=10)
    assert flush(settings, now=now + timedelta(seconds=9)).retried == 0  # not due yet
    assert flush(settings, now=now + timedelta(seconds=10)).retried == 1
    (row,) = _rows(env)
    assert row.attempts == 2 and row.next_attempt_at == now + timedelta(seconds=25)  # 20 capped at 15
    report = flush(settings, now=now + timedelta(seconds=25))
    assert (report.sent, report.retried, report.failed) == (0, 0, 1)
    (row,) = _rows(env)
    assert row.attempts == 3 and row.failed_at is not None and row.sent_at is None
    assert f"e-mailserver 127.0.0.1:{port} weigert de verbinding" in (row.last_error or "")
    assert "opgegeven na 3 pogingen" in (row.last_error or "")
    assert flush(settings, now=now + timedelta(days=1)).failed == 0  # failed stays failed, not retried


def test_refused_recipient_fails_at_once_and_others_still_go(env_any_db: Env, smtp_server: SmtpServer,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    settings = _write(env_any_db, smtp_server.port)
    smtp_server.rcpt_replies["weg@school.example"] = "550 5.1.1 <weg@school.example>: Recipient address rejected"
    smtp_server.rcpt_replies["vol@school.example"] = "452 4.2.2 Mailbox full, try again later"
    _queue(env_any_db, "a", recipient="weg@school.example")
    _queue(env_any_db, "b", recipient="vol@school.example")
    _queue(env_any_db, "c")
    report = flush(settings)
    assert (report.sent, report.retried, report.failed) == (1, 1, 1)
    gone, full, ok = _rows(env_any_db)
    assert gone.failed_at is not None and gone.attempts == 1
    assert (f"e-mailserver 127.0.0.1:{smtp_server.port} weigert ontvanger weg@school.example: "
            "550 5.1.1 <weg@school.example>: Recipient address rejected") in (gone.last_error or "")
    assert full.failed_at is None and full.sent_at is None and full.attempts == 1
    assert "452 4.2.2 Mailbox full" in (full.last_error or "")
    assert ok.sent_at is not None
    assert [e.rcpt_tos for e in smtp_server.envelopes] == [[DIRECTOR]]
    assert "refused the recipient weg@school.example: 550" in caplog.text
    assert f"127.0.0.1:{smtp_server.port}" in caplog.text


def test_server_that_never_answers_times_out(env: Env) -> None:
    with socket.socket() as listener:  # accepts connections (backlog) but never greets
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)
        port = listener.getsockname()[1]
        settings = _write(env, port, mail={"timeout_seconds": 0.5})
        _queue(env, "a")
        started = time.monotonic()
        report = flush(settings)
        assert time.monotonic() - started < 10
    assert report.retried == 1
    (row,) = _rows(env)
    assert f"e-mailserver 127.0.0.1:{port} antwoordt niet binnen 0.5 s" in (row.last_error or "")


@pytest.fixture
def tls_cert(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Path]]:
    """A self-signed certificate the client trusts through SSL_CERT_FILE (as an admin would do
    for a school's own mail relay)."""
    cert = self_signed_cert(tmp_path / "tls")
    monkeypatch.setenv("SSL_CERT_FILE", str(cert[0]))
    yield cert


SECRETS = {"SW_SMTP_USER": "schoolwacht", "SW_SMTP_PASSWORD": "geheim wachtwoord"}


def _tls_settings(env: Env, port: int, password: str | None = "geheim wachtwoord",
                  starttls: bool = True) -> Settings:
    env.extra_env = {"SW_SMTP_USER": "schoolwacht"}
    if password is not None:
        env.extra_env["SW_SMTP_PASSWORD"] = password
    return _write(env, port, mail={"starttls": starttls, "username_env": "SW_SMTP_USER",
                                   "password_env": "SW_SMTP_PASSWORD"})


def test_starttls_and_auth_login(env_any_db: Env, smtp_server_factory: Any, tls_cert: tuple[Path, Path]) -> None:
    server: SmtpServer = smtp_server_factory(tls_cert=tls_cert, credentials=("schoolwacht", "geheim wachtwoord"),
                                             exclude_auth=("PLAIN",))
    settings = _tls_settings(env_any_db, server.port)
    _queue(env_any_db, "a", "b")
    report = flush(settings)
    assert (report.sent, report.retried, report.failed) == (2, 0, 0)
    assert server.auth_attempts == [("LOGIN", "schoolwacht")]  # one connection, one login
    assert len(server.messages) == 2


def test_wrong_password_is_retried_with_a_clear_error(env: Env, smtp_server_factory: Any,
                                                     tls_cert: tuple[Path, Path],
                                                     caplog: pytest.LogCaptureFixture) -> None:
    server: SmtpServer = smtp_server_factory(tls_cert=tls_cert, credentials=("schoolwacht", "geheim wachtwoord"))
    settings = _tls_settings(env, server.port, password="fout")
    _queue(env, "a")
    report = flush(settings)
    assert (report.sent, report.retried, report.failed) == (0, 1, 0)
    (row,) = _rows(env)
    assert row.attempts == 1 and row.failed_at is None
    assert f"e-mailserver 127.0.0.1:{server.port} weigert de inlog (535" in (row.last_error or "")
    assert "SW_SMTP_USER / SW_SMTP_PASSWORD" in (row.last_error or "")
    assert f"mail server 127.0.0.1:{server.port} refused the login of schoolwacht: 535" in caplog.text
    assert "fout" not in (row.last_error or "")  # the password never lands in the database
    assert server.messages == []


def test_untrusted_certificate_and_missing_starttls(env: Env, smtp_server_factory: Any, tmp_path: Path) -> None:
    cert = self_signed_cert(tmp_path / "tls")  # not trusted: no SSL_CERT_FILE
    server: SmtpServer = smtp_server_factory(tls_cert=cert, credentials=("schoolwacht", "geheim wachtwoord"))
    settings = _tls_settings(env, server.port)
    _queue(env, "a")
    assert flush(settings).retried == 1
    (row,) = _rows(env)
    assert f"TLS-verbinding met e-mailserver 127.0.0.1:{server.port} mislukt" in (row.last_error or "")
    assert "certificate" in (row.last_error or "")

    plain = _tls_settings(env, server.port, starttls=False)
    report = flush(plain, now=datetime.now(UTC) + timedelta(hours=1))
    assert report.retried == 1
    (row,) = _rows(env)
    assert "biedt hier geen inloggen (AUTH) aan; is [mail] starttls = true nodig?" in (row.last_error or "")
    assert server.messages == []


def test_missing_secret_is_a_config_error_and_mail_waits(env: Env, smtp_server: SmtpServer) -> None:
    settings = _tls_settings(env, smtp_server.port, password=None, starttls=False)
    _queue(env, "a")
    report = flush(settings)
    assert report.retried == 1 and report.config_error is not None
    assert "SW_SMTP_PASSWORD" in report.config_error
    (row,) = _rows(env)
    assert "omgevingsvariabele SW_SMTP_PASSWORD ([mail] password_env) is niet gezet" in (row.last_error or "")
    assert smtp_server.messages == []


def test_a_second_process_holding_the_lease_sends_nothing(env_any_db: Env, smtp_server: SmtpServer) -> None:
    settings = _write(env_any_db, smtp_server.port)
    _queue(env_any_db, "a")
    engine = make_engine(settings.database.url)
    try:
        assert acquire(engine, "job:outbox", 300, holder="andere-host:1234:abcd")
        report = flush(settings)
        assert report.busy and report.sent == 0 and smtp_server.messages == []
    finally:
        engine.dispose()


def _cli(env: Env, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "schoolwacht.cli", "--config", str(env.config_file), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env.extra_env})


def test_cli_flush_and_status(env: Env, smtp_server_factory: Any) -> None:
    server: SmtpServer = smtp_server_factory(start=False)
    _write(env, server.port, alerts={"retry_base_seconds": 1})
    _queue(env, "a")

    down = _cli(env, "alerts", "flush")
    assert down.returncode == 0, down.stderr
    lines = down.stdout.splitlines()
    assert lines[0] == "verzonden 0, opnieuw te proberen 1, mislukt 0"
    assert "in de wachtrij: 1 (oudste van " in lines[1]
    assert any(line.startswith("laatste fout: ") and f"127.0.0.1:{server.port} weigert de verbinding" in line
               for line in lines)

    status = _cli(env, "alerts", "status", "--json")
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["pending"] == 1 and data["sent"] == 0 and data["failed"] == 0
    assert f"127.0.0.1:{server.port}" in data["last_error"] and data["last_error_at"]
    assert data["oldest_pending_at"] and data["last_flush_at"]

    server.start()
    time.sleep(1.1)  # the back-off of 1 s
    up = _cli(env, "alerts", "flush")
    assert up.returncode == 0, up.stderr
    assert up.stdout.splitlines()[0] == "verzonden 1, opnieuw te proberen 0, mislukt 0"
    assert len(server.messages) == 1

    text = _cli(env, "alerts", "status")
    assert text.returncode == 0
    assert text.stdout.splitlines()[:3] == ["in de wachtrij: 0", "verzonden: 1", "mislukt: 0"]


def test_cli_flush_exits_nonzero_on_a_missing_secret(env: Env, smtp_server: SmtpServer) -> None:
    _write(env, smtp_server.port, mail={"username_env": "SW_NOT_SET_USER", "password_env": "SW_NOT_SET_PW"})
    _queue(env, "a")
    result = _cli(env, "alerts", "flush")
    assert result.returncode == 1
    assert "verzonden 0, opnieuw te proberen 1, mislukt 0" in result.stdout
    assert result.stderr.strip().splitlines() == [
        "Error: environment variable SW_NOT_SET_USER ([mail] username_env) is not set"]
