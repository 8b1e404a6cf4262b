"""Accounts: creation and password checks (argon2id via argon2-cffi)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from schoolwacht.errors import InputError
from store.models import User

ROLES = ("admin", "director", "staff")
MIN_PASSWORD_LENGTH = 10
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(user: User, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def find_user(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == email.strip().lower())).first()


def set_user(session: Session, *, email: str, role: str, password: str, name: str = "") -> User:
    """Create the account, or reset its role, name and password when it exists."""
    email = email.strip().lower()
    if "@" not in email or len(email) > 320:
        raise InputError(f"not an e-mail address: {email!r}")
    if role not in ROLES:
        raise InputError(f"unknown role {role!r} (one of {', '.join(ROLES)})")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(f"password too short: at least {MIN_PASSWORD_LENGTH} characters")
    user = find_user(session, email) or User(email=email, role=role, password_hash="")
    user.role, user.name, user.active = role, name or user.name, True
    user.password_hash = hash_password(password)
    user.failed_logins, user.locked_until = 0, None
    session.add(user)
    session.flush()
    return user
