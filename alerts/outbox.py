"""Sending the outbox over SMTP: one connection per flush, each mail committed as sent at once.

`flush` is what the scheduler's outbox job and `schoolwacht alerts flush` run. It takes the
database lease `job:outbox`, so two processes never send the same mail; it never raises for
mail-server problems: a server that is down, slow, refuses the login or answers 4xx delays the
mail with exponential back-off; a recipient refused for good (5xx) fails that mail at once.
Each failure is one English log line naming host:port and the reason, and a Dutch
`last_error` on the row for `schoolwacht alerts status` and the dashboard.

A mail is committed as sent right after the server accepted it. A crash between the two sends
it again on the next flush, with the same `Message-ID` (derived from the dedup key), so the
copy is recognisable.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import smtplib
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Any

from sqlalchemy.engine import Engine

from alerts import dutch_time
from store import outbox as store_outbox
from store.config import Settings
from store.db import make_engine, session_scope
from store.leases import acquire, held
from store.outbox import OUTBOX_LEASE, header_safe
from store.types import utcnow

logger = logging.getLogger(__name__)
# Log lines reach whatever the process configured (the scheduler's log); a bare CLI call shows
# the same facts through `status_lines` instead of Python's last-resort stderr handler.
logger.addHandler(logging.NullHandler())

# Mails sent per flush at most; the rest wait for the next flush (a minute later by default).
FLUSH_LIMIT = 200


@dataclass
class FlushReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    # Another process holds the outbox lease and is sending; this flush did nothing.
    busy: bool = False
    # The problem that stopped this flush from reaching the server (Dutch), if any.
    error: str | None = None
    # A configuration problem (a secret that is not set): the CLI exits non-zero on it.
    config_error: str | None = None


@dataclass(frozen=True)
class _Mail:
    id: int
    dedup_key: str
    kind: str
    recipient: str
    subject: str
    body_text: str
    body_html: str
    attachments: list[dict[str, Any]]
    attempts: int


@dataclass
class _Problem(Exception):
    """Why a mail was not sent: English for the log, Dutch for `last_error`."""

    en: str
    nl: str
    permanent: bool = False  # the server refused this mail for good
    connection: bool = False  # the connection is unusable: stop this flush
    config: bool = field(default=False)


def message_id(dedup_key: str, sender: str) -> str:
    """The same Message-ID for every send of one outbox row."""
    digest = hashlib.sha256(dedup_key.encode("utf-8")).hexdigest()[:32]
    domain = "".join(c for c in sender.rpartition("@")[2] if c.isalnum() or c in ".-") or "schoolwacht.invalid"
    return f"<sw.{digest}@{domain}>"  # short: a folded Message-ID confuses some mail tools


def build_message(settings: Settings, mail: _Mail, *, now: datetime) -> EmailMessage:
    """The mail as sent: plain text with an HTML alternative; attachments are inline parts of
    the HTML (Content-ID = cid), so `<img src="cid:...">` shows without remote images."""
    message = EmailMessage()
    message["From"] = formataddr(("Schoolwacht", header_safe(settings.mail.sender)))
    message["To"] = header_safe(mail.recipient)
    message["Subject"] = header_safe(mail.subject)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id(mail.dedup_key, settings.mail.sender)
    message["Auto-Submitted"] = "auto-generated"
    message["X-Schoolwacht-Outbox"] = header_safe(mail.dedup_key)
    message.set_content(mail.body_text)
    target = message
    if mail.body_html:
        message.add_alternative(mail.body_html, subtype="html")
        target = message.get_payload()[1]  # type: ignore[index]
    for item in mail.attachments:
        maintype, _, subtype = item["content_type"].partition("/")
        data = base64.b64decode(item["data"])
        if target is message:
            message.add_attachment(data, maintype=maintype, subtype=subtype, cid=f"<{item['cid']}>",
                                   filename=item.get("filename"))
        else:
            target.add_related(data, maintype=maintype, subtype=subtype, cid=f"<{item['cid']}>",
                               disposition="inline", filename=item.get("filename"))
    return message


def flush(settings: Settings, *, now: datetime | None = None, limit: int = FLUSH_LIMIT) -> FlushReport:
    """Send what is due. `now` fixes the clock (tests); by default the real time is used."""
    engine = make_engine(settings.database.url)
    try:
        with held(engine, OUTBOX_LEASE, settings.schedule.lease_seconds) as mine:
            if not mine:
                logger.info("outbox: another process holds the lease %s and is sending; skipped",
                            OUTBOX_LEASE)
                return FlushReport(busy=True)
            clock: Callable[[], datetime] = (lambda: now) if now is not None else utcnow
            return _flush(engine, settings, clock, limit)
    finally:
        engine.dispose()


def _flush(engine: Engine, settings: Settings, clock: Callable[[], datetime], limit: int) -> FlushReport:
    with session_scope(engine) as session:
        mails = [_Mail(id=r.id, dedup_key=r.dedup_key, kind=r.kind, recipient=r.recipient,  # type: ignore[arg-type]
                       subject=r.subject, body_text=r.body_text, body_html=r.body_html,
                       attachments=list(r.attachments or []), attempts=r.attempts)
                 for r in store_outbox.due(session, clock(), limit)]
    report = FlushReport()
    if not mails:
        return report
    try:
        smtp = _open(settings)
    except _Problem as problem:
        logger.error("outbox: %s; %d mails wait", problem.en, len(mails))
        report.error = problem.nl
        if problem.config:
            report.config_error = problem.en
        for mail in mails:
            _record_failure(engine, settings, mail, problem, report, clock())
        return report
    where = _where(settings)
    renewed = time.monotonic()
    try:
        for mail in mails:
            if time.monotonic() - renewed > settings.schedule.lease_seconds / 3:
                if not acquire(engine, OUTBOX_LEASE, settings.schedule.lease_seconds):
                    logger.warning("outbox: lost the lease %s; stopping this flush", OUTBOX_LEASE)
                    break
                renewed = time.monotonic()
            try:
                message = build_message(settings, mail, now=clock())
            except (ValueError, TypeError, LookupError) as exc:  # a broken row: it can never be sent
                problem = _Problem(f"mail {mail.id} cannot be built: {exc}",
                                   f"mail {mail.id} kan niet worden opgebouwd: {exc}", permanent=True)
                _record_failure(engine, settings, mail, problem, report, clock())
                continue
            try:
                smtp.send_message(message, from_addr=settings.mail.sender, to_addrs=[mail.recipient])
            except (smtplib.SMTPException, OSError) as exc:
                problem = _send_problem(exc, where, mail.recipient, settings)
                _record_failure(engine, settings, mail, problem, report, clock())
                if problem.connection:
                    report.error = problem.nl
                    break  # the remaining mails stay due for the next flush
                continue
            with session_scope(engine) as session:
                store_outbox.mark_sent(session, mail.id, now=clock())
            report.sent += 1
            logger.info("outbox: sent mail %d (%s) to %s via %s", mail.id, mail.kind, mail.recipient, where)
    finally:
        _close(smtp)
    return report


def _where(settings: Settings) -> str:
    return f"{settings.mail.host}:{settings.mail.port}"


def _close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _credentials(settings: Settings) -> tuple[str, str] | None:
    mail = settings.mail
    if not mail.username_env and not mail.password_env:
        return None
    for key, name in (("username_env", mail.username_env), ("password_env", mail.password_env)):
        if not name:
            raise _Problem(f"[mail] {key} is not set in the config, but login needs it",
                           f"[mail] {key} ontbreekt in de configuratie; inloggen kan niet", config=True)
        if settings.secret(name) is None:
            raise _Problem(f"environment variable {name} ([mail] {key}) is not set",
                           f"omgevingsvariabele {name} ([mail] {key}) is niet gezet", config=True)
    return settings.secret(mail.username_env), settings.secret(mail.password_env)  # type: ignore[return-value]


def _open(settings: Settings) -> smtplib.SMTP:
    """Connect, STARTTLS and log in as configured; a `_Problem` says why not."""
    mail = settings.mail
    where = _where(settings)
    credentials = _credentials(settings)
    try:
        smtp = smtplib.SMTP(mail.host, mail.port, timeout=mail.timeout_seconds)
    except smtplib.SMTPConnectError as exc:
        raise _Problem(f"mail server {where} refused the session: {_reply(exc)}",
                       f"e-mailserver {where} weigert de verbinding: {_reply(exc)}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise _connection_problem(exc, where, settings) from None
    try:
        smtp.ehlo()
        if mail.starttls:
            if not smtp.has_extn("starttls"):
                raise _Problem(f"mail server {where} does not offer STARTTLS ([mail] starttls = true)",
                               f"e-mailserver {where} biedt geen STARTTLS aan ([mail] starttls = true)")
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if credentials is not None:
            if not smtp.has_extn("auth"):
                hint = "" if mail.starttls else "; does it need [mail] starttls = true?"
                hint_nl = "" if mail.starttls else "; is [mail] starttls = true nodig?"
                raise _Problem(f"mail server {where} offers no login (AUTH) on this connection{hint}",
                               f"e-mailserver {where} biedt hier geen inloggen (AUTH) aan{hint_nl}")
            smtp.login(*credentials)
    except _Problem:
        smtp.close()
        raise
    except smtplib.SMTPAuthenticationError as exc:
        smtp.close()
        raise _Problem(
            f"mail server {where} refused the login of {credentials[0] if credentials else '?'}: {_reply(exc)}",
            f"e-mailserver {where} weigert de inlog ({_reply(exc)}): controleer de gebruikersnaam en het "
            f"wachtwoord in {settings.mail.username_env} / {settings.mail.password_env}") from None
    except ssl.SSLError as exc:
        smtp.close()
        reason = getattr(exc, "verify_message", None) or exc.reason or str(exc)
        raise _Problem(f"TLS with mail server {where} failed: {reason}",
                       f"TLS-verbinding met e-mailserver {where} mislukt: {reason}") from None
    except (smtplib.SMTPException, OSError) as exc:
        smtp.close()
        raise _connection_problem(exc, where, settings) from None
    return smtp


def _reply(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
    return f"{exc.smtp_code} {' '.join(text.split())}".strip()


def _connection_problem(exc: BaseException, where: str, settings: Settings) -> _Problem:
    if isinstance(exc, ConnectionRefusedError):
        return _Problem(f"mail server {where} refused the connection (is it running?)",
                        f"e-mailserver {where} weigert de verbinding (draait hij?)", connection=True)
    # smtplib wraps a read timeout into SMTPServerDisconnected("... timed out").
    if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
        seconds = settings.mail.timeout_seconds
        return _Problem(f"mail server {where} did not answer within {seconds:g} s",
                        f"e-mailserver {where} antwoordt niet binnen {seconds:g} s", connection=True)
    if isinstance(exc, socket.gaierror):
        return _Problem(f"cannot resolve the mail server host {settings.mail.host!r}: {exc.strerror}",
                        f"e-mailserver {settings.mail.host!r} onbekend: {exc.strerror}", connection=True)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return _Problem(f"mail server {where} closed the connection",
                        f"e-mailserver {where} verbrak de verbinding", connection=True)
    if isinstance(exc, smtplib.SMTPResponseException):
        return _Problem(f"mail server {where} answered {_reply(exc)}",
                        f"e-mailserver {where} antwoordde {_reply(exc)}", connection=True)
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return _Problem(f"cannot talk to mail server {where}: {reason}",
                    f"e-mailserver {where} niet bereikbaar: {reason}", connection=True)


def _send_problem(exc: BaseException, where: str, recipient: str, settings: Settings) -> _Problem:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()), (0, b""))
        reply = _reply(smtplib.SMTPResponseException(code, text))
        permanent = 500 <= code < 600
        return _Problem(f"mail server {where} refused the recipient {recipient}: {reply}",
                        f"e-mailserver {where} weigert ontvanger {recipient}: {reply}", permanent=permanent)
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return _Problem(f"mail server {where} refused the sender {settings.mail.sender}: {_reply(exc)}",
                        f"e-mailserver {where} weigert afzender {settings.mail.sender} ({_reply(exc)}); "
                        "controleer [mail] sender")
    if isinstance(exc, smtplib.SMTPDataError):
        return _Problem(f"mail server {where} refused the message to {recipient}: {_reply(exc)}",
                        f"e-mailserver {where} weigert het bericht aan {recipient}: {_reply(exc)}",
                        permanent=500 <= exc.smtp_code < 600)
    if isinstance(exc, smtplib.SMTPNotSupportedError):  # e.g. a non-ASCII address without SMTPUTF8
        return _Problem(f"mail server {where} cannot take the mail to {recipient}: {exc}",
                        f"e-mailserver {where} kan de mail aan {recipient} niet aannemen: {exc}", permanent=True)
    if isinstance(exc, smtplib.SMTPResponseException) and not isinstance(exc, smtplib.SMTPServerDisconnected):
        return _Problem(f"mail server {where} answered {_reply(exc)} for the mail to {recipient}",
                        f"e-mailserver {where} antwoordde {_reply(exc)} voor de mail aan {recipient}")
    return _connection_problem(exc, where, settings)


def _record_failure(engine: Engine, settings: Settings, mail: _Mail, problem: _Problem,
                    report: FlushReport, now: datetime) -> None:
    attempts = mail.attempts + 1
    limit = settings.alerts.max_attempts
    with session_scope(engine) as session:
        if problem.permanent or attempts >= limit:
            suffix = "" if problem.permanent else f" (opgegeven na {attempts} pogingen)"
            store_outbox.mark_failed(session, mail.id, error=problem.nl + suffix, now=now)
            report.failed += 1
            why = "refused for good" if problem.permanent else f"given up after {attempts} attempts"
            logger.error("outbox: mail %d (%s) to %s failed, %s: %s", mail.id, mail.kind, mail.recipient,
                         why, problem.en)
            return
        delay = min(settings.alerts.retry_base_seconds * 2 ** mail.attempts, settings.alerts.retry_max_seconds)
        store_outbox.mark_retry(session, mail.id, error=problem.nl, now=now,
                                next_attempt_at=now + timedelta(seconds=delay))
        report.retried += 1
        logger.warning("outbox: mail %d (%s) to %s not sent: %s; attempt %d of %d, next try in %d s",
                       mail.id, mail.kind, mail.recipient, problem.en, attempts, limit, delay)


def outbox_status(settings: Settings) -> dict[str, Any]:
    """`store.outbox.status` for this installation's database."""
    engine = make_engine(settings.database.url)
    try:
        with session_scope(engine) as session:
            return store_outbox.status(session)
    finally:
        engine.dispose()


def status_lines(status: dict[str, Any], zone: str = "Europe/Amsterdam") -> list[str]:
    """The outbox status for people (Dutch), one fact per line."""
    oldest = status.get("oldest_pending_at")
    lines = [f"in de wachtrij: {status['pending']}" + (f" (oudste van {dutch_time(oldest, zone)})" if oldest else ""),
             f"verzonden: {status['sent']}",
             f"mislukt: {status['failed']}"]
    if status.get("last_error"):
        at = status.get("last_error_at")
        lines.append("laatste fout: " + (f"{dutch_time(at, zone)}: " if at else "") + status["last_error"])
    else:
        lines.append("laatste fout: geen")
    flushed = status.get("last_flush_at")
    lines.append(f"laatst verstuurd (flush): {dutch_time(flushed, zone) if flushed else 'nog nooit'}")
    return lines


__all__ = ["FLUSH_LIMIT", "FlushReport", "build_message", "flush", "message_id", "outbox_status",
           "status_lines"]
