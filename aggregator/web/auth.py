"""Passwords, login sessions, API tokens, roles and the login rate limit.

Passwords are hashed with scrypt (stdlib ``hashlib.scrypt``) and a random 16-byte salt
per user, stored as ``scrypt$n$r$p$salt$hash`` (base64), and compared in constant time.
A session id and an API token are 32 random bytes (URL-safe base64) handed out once;
only their SHA-256 is stored.

>>> stored = hash_password("correct horse battery staple")
>>> verify_password("correct horse battery staple", stored), verify_password("x", stored)
(True, False)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from aggregator.web.models import ApiTokenRow, SessionRow, UserRow

_N, _R, _P, _LEN = 2**14, 8, 1, 32
MIN_PASSWORD_LENGTH = 8
USERNAME_PATTERN = r"^[A-Za-z0-9_.@-]{1,64}$"


class Role(StrEnum):
    OPERATOR = "operator"  # reviews detections, moves cases through the workflow
    ENGINEER = "engineer"  # cameras and their zones
    ADMIN = "admin"  # users and settings; may do everything


class AuthError(ValueError):
    """A user cannot be created or found; the message says why (never shows a secret)."""


@dataclass(frozen=True)
class Principal:
    """Who makes a request, and how: ``via`` is ``"session"`` or ``"token"``.

    ``csrf_token`` is the session's CSRF token ("" for a token-authenticated call).
    """

    user_id: int
    username: str
    role: Role
    via: str
    csrf_token: str = ""

    def has_role(self, *roles: Role | str) -> bool:
        """Admins have every role; others only their own."""
        return self.role is Role.ADMIN or self.role in roles


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, dklen=_LEN, maxmem=128 * r * n * 2
    )


def hash_password(password: str) -> str:
    """A storable scrypt hash of ``password`` with a fresh salt."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, _N, _R, _P)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (constant-time compare)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        actual = _scrypt(password, _unb64(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(actual, _unb64(digest))


# Checked when a username is unknown, so that a wrong name costs as long as a wrong password.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


# --------------------------------------------------------------------------- users


def create_user(db: Session, username: str, role: Role | str, password: str) -> UserRow:
    """Add a user (raises :class:`AuthError` for a taken name or a short password)."""
    import re

    if not re.match(USERNAME_PATTERN, username):
        raise AuthError("a username is 1-64 letters, digits or _ . @ -")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if db.scalar(select(UserRow.id).where(UserRow.username == username)) is not None:
        raise AuthError(f"user {username!r} exists")
    user = UserRow(
        username=username,
        role=str(Role(role)),
        password_hash=hash_password(password),
        active=True,
        created_at=time.time(),
    )
    db.add(user)
    db.flush()
    return user


def authenticate(db: Session, username: str, password: str) -> UserRow | None:
    """The active user with this name and password, else None (same cost either way)."""
    user = db.scalar(select(UserRow).where(UserRow.username == username))
    if user is None or not user.active:
        verify_password(password, _DUMMY_HASH)
        return None
    return user if verify_password(password, user.password_hash) else None


def issue_token(db: Session, user: UserRow, label: str = "") -> str:
    """A new API token for ``user``; the clear token is returned once and never stored."""
    token = new_secret()
    db.add(
        ApiTokenRow(
            user_id=user.id, token_hash=token_hash(token), label=label, created_at=time.time()
        )
    )
    db.flush()
    return token


def principal_from_token(db: Session, token: str, now: float) -> Principal | None:
    row = db.execute(
        select(ApiTokenRow, UserRow)
        .join(UserRow, UserRow.id == ApiTokenRow.user_id)
        .where(ApiTokenRow.token_hash == token_hash(token))
    ).first()
    if row is None or not row.UserRow.active:
        return None
    row.ApiTokenRow.last_used_at = now
    user = row.UserRow
    return Principal(user.id, user.username, Role(user.role), "token")


# --------------------------------------------------------------------------- sessions


def start_session(db: Session, user: UserRow, ttl_s: float, now: float) -> str:
    """A new session for ``user``; returns the cookie value (stored only as its hash)."""
    session_id = new_secret()
    db.add(
        SessionRow(
            id_hash=token_hash(session_id),
            user_id=user.id,
            csrf_token=new_secret(),
            created_at=now,
            expires_at=now + ttl_s,
        )
    )
    db.execute(delete(SessionRow).where(SessionRow.expires_at < now))  # tidy expired ones
    db.flush()
    return session_id


def principal_from_session(db: Session, session_id: str, now: float) -> Principal | None:
    row = db.execute(
        select(SessionRow, UserRow)
        .join(UserRow, UserRow.id == SessionRow.user_id)
        .where(SessionRow.id_hash == token_hash(session_id))
    ).first()
    if row is None or row.SessionRow.expires_at <= now or not row.UserRow.active:
        return None
    user = row.UserRow
    return Principal(user.id, user.username, Role(user.role), "session", row.SessionRow.csrf_token)


def end_session(db: Session, session_id: str) -> None:
    db.execute(delete(SessionRow).where(SessionRow.id_hash == token_hash(session_id)))


# --------------------------------------------------------------------------- rate limit


class LoginLimiter:
    """Failed logins per username and per client address within a sliding window.

    In memory: the web app runs in one process (``gridwatch web`` or the aggregator).
    """

    def __init__(self, attempts: int, window_s: float, ip_factor: int = 4) -> None:
        self.attempts = attempts
        self.window_s = window_s
        self.ip_factor = ip_factor
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times

    def blocked(self, username: str, ip: str, now: float) -> bool:
        with self._lock:
            by_user = len(self._recent(f"u:{username}", now))
            by_ip = len(self._recent(f"ip:{ip}", now))
        return by_user >= self.attempts or by_ip >= self.attempts * self.ip_factor

    def failed(self, username: str, ip: str, now: float) -> None:
        with self._lock:
            self._recent(f"u:{username}", now).append(now)
            self._recent(f"ip:{ip}", now).append(now)

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(f"u:{username}", None)
