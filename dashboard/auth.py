"""Logins, sessions, roles and CSRF for the dashboard.

Sessions live in the database (`WebSession`): the cookie carries a random token, the table its
SHA-256. A login always creates a new session (no fixation), logout deletes it, and a session
ends after `IDLE` without use or `ABSOLUTE` after login. Every form carries the session's CSRF
token; the login form, which has no session yet, uses a double-submit cookie instead.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import timedelta

from fastapi import Request
from sqlalchemy import bindparam, update
from sqlalchemy import select as select_columns
from sqlmodel import Session, delete, select

from store.models import User, WebSession
from store.types import utcnow
from store.users import find_user, hash_password, verify_password

COOKIE = "sw_session"
LOGIN_CSRF_COOKIE = "sw_login_csrf"
IDLE = timedelta(hours=8)
ABSOLUTE = timedelta(hours=12)
# Per account: after this many wrong passwords in a row the account waits LOCK_TIME.
MAX_FAILURES = 5
LOCK_TIME = timedelta(minutes=15)
# Per client address: at most this many failed logins in IP_WINDOW seconds.
IP_FAILURES = 20
IP_WINDOW = 15 * 60

ROLE_NAMES_NL = {"admin": "beheerder", "director": "directeur", "staff": "medewerker"}


class LoginRequired(Exception):
    """No valid session: the app answers with a redirect to the login page."""


class Forbidden(Exception):
    """A valid session whose role may not do this."""


class CsrfFailed(Exception):
    """A form without the session's CSRF token."""


@dataclass(frozen=True)
class Viewer:
    """The logged-in user of a request: plain values, valid after the request's transaction ends
    (error pages render after a rollback)."""

    id: int
    email: str
    name: str
    role: str
    csrf_token: str

    @property
    def label(self) -> str:
        return self.email

    def can(self, *roles: str) -> bool:
        return self.role in roles


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


class IpThrottle:
    """Failed logins per client address in a sliding window (in memory: per process)."""

    def __init__(self, limit: int = IP_FAILURES, window: float = IP_WINDOW) -> None:
        self.limit, self.window = limit, window
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def blocked(self, ip: str) -> bool:
        with self._lock:
            recent = self._failures[ip]
            while recent and recent[0] < time.monotonic() - self.window:
                recent.popleft()
            return len(recent) >= self.limit

    def failed(self, ip: str) -> None:
        with self._lock:
            self._failures[ip].append(time.monotonic())


def authenticate(session: Session, email: str, password: str) -> tuple[User | None, str]:
    """The user for these credentials, or None and a Dutch reason. Counts failures, locks."""
    now = utcnow()
    user = find_user(session, email)
    if user is None or not user.active:
        verify_password(User(email="", role="staff", password_hash=_dummy_hash()), password)  # same timing
        return None, "Onjuist e-mailadres of wachtwoord."
    if user.locked_until is not None and user.locked_until > now:
        minutes = max(1, int((user.locked_until - now).total_seconds() // 60) + 1)
        return None, f"Te veel mislukte pogingen. Probeer het over {minutes} minuten opnieuw."
    if not verify_password(user, password):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILURES:
            user.locked_until = now + LOCK_TIME
            user.failed_logins = 0
        session.add(user)
        return None, "Onjuist e-mailadres of wachtwoord."
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
    session.add(user)
    return user, ""


def start_session(session: Session, user: User, ip: str) -> str:
    """A new session for `user`; returns the cookie token."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(WebSession(token_hash=_digest(token), user_id=user.id, csrf_token=secrets.token_urlsafe(32),  # type: ignore[arg-type]
                           created_at=now, last_seen_at=now, expires_at=now + ABSOLUTE, ip=ip[:64]))
    # Old sessions of anyone that expired long ago go when someone logs in.
    session.exec(delete(WebSession).where(WebSession.expires_at < now))  # type: ignore[call-overload]
    return token


def end_session(session: Session, token: str | None) -> None:
    if token:
        session.exec(delete(WebSession).where(WebSession.token_hash == _digest(token)))  # type: ignore[call-overload]


# Built once: on SQLite, building and caching-keying a statement costs more than running it, and
# this one runs on every request.
_SESSION_USER = (
    select_columns(WebSession.expires_at, WebSession.last_seen_at, WebSession.csrf_token,
                   User.id, User.email, User.name, User.role, User.active)
    .join(User, User.id == WebSession.user_id)  # type: ignore[arg-type]
    .where(WebSession.token_hash == bindparam("digest")))
_TOUCH_SESSION = (update(WebSession).where(WebSession.token_hash == bindparam("digest"))  # type: ignore[arg-type]
                  .values(last_seen_at=bindparam("now")))


def viewer_for(session: Session, token: str | None) -> Viewer | None:
    """The logged-in user of a session token, or None. One indexed query of plain columns: this
    runs on every request."""
    if not token:
        return None
    digest = _digest(token)
    # Plain columns, run on the connection: the ORM layer of `Session.execute` would double the cost.
    connection = session.connection()
    row = connection.execute(_SESSION_USER, {"digest": digest}).first()
    now = utcnow()
    if row is None or row.expires_at <= now or row.last_seen_at + IDLE <= now or not row.active:
        return None
    if now - row.last_seen_at > timedelta(minutes=1):  # one write a minute at most
        connection.execute(_TOUCH_SESSION, {"digest": digest, "now": now})
    return Viewer(id=row.id, email=row.email, name=row.name, role=row.role, csrf_token=row.csrf_token)


def check_csrf(viewer: Viewer, submitted: str | None) -> None:
    if not submitted or not hmac.compare_digest(submitted, viewer.csrf_token):
        raise CsrfFailed


def check_login_csrf(request: Request, submitted: str | None) -> None:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not submitted or not cookie or not hmac.compare_digest(submitted, cookie):
        raise CsrfFailed


def users_by_role(session: Session, *roles: str) -> list[User]:
    return list(session.exec(select(User).where(User.role.in_(roles), User.active).order_by(User.email)))  # type: ignore[attr-defined]


@functools.cache
def _dummy_hash() -> str:
    """A hash of a random password: unknown accounts cost as much time as known ones."""
    return hash_password(secrets.token_urlsafe(16))
