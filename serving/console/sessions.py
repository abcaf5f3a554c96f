"""Console sessions, kept in the database so every ``quanzi serve`` worker sees them.

Signing in trades an editor's or admin's API key for a random session token: the browser
keeps the token in an HttpOnly, SameSite cookie, and the database keeps only its SHA-256
(like ``api_keys``), the key's id and the session's CSRF token. The key itself is never
stored or sent back. A session dies when it is signed out, idles past ``IDLE_TIMEOUT``,
reaches ``MAX_AGE``, or when its key is revoked or loses an allowed role.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from quanzi.storage.api_keys import Principal, Role
from quanzi.storage.orm import ApiKey, ConsoleSession

CONSOLE_ROLES: frozenset[str] = frozenset({"editor", "admin"})
IDLE_TIMEOUT = timedelta(hours=4)  # no request for this long signs an editor out
MAX_AGE = timedelta(hours=12)  # a working day; then sign in again
TOUCH_EVERY = timedelta(minutes=5)  # extend the idle deadline at most this often (one write)


@dataclass(frozen=True)
class SignedIn:
    """The editor behind a console request: their key's principal and the CSRF token."""

    principal: Principal
    csrf_token: str
    expires_at: datetime

    @property
    def actor(self) -> str:
        """Recorded as the author of decisions and overrides, like the JSON API does."""
        return self.principal.actor


def token_digest(token: str) -> str:
    """What the database keeps of a session token."""
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(
    db: Session, principal: Principal, now: datetime | None = None
) -> tuple[str, SignedIn]:
    """Store a new session for ``principal`` (editor or admin); return the cookie's token."""
    if principal.role not in CONSOLE_ROLES:
        raise ValueError(f"role {principal.role!r} may not use the console")
    now = now or datetime.now(UTC)
    purge_expired(db, now)
    token = secrets.token_urlsafe(32)  # 256 bits
    row = ConsoleSession(
        token_hash=token_digest(token),
        key_id=principal.key_id,
        csrf_token=secrets.token_urlsafe(32),
        last_seen_at=now,
        expires_at=now + min(IDLE_TIMEOUT, MAX_AGE),
    )
    db.add(row)
    db.flush()
    return token, SignedIn(principal, row.csrf_token, row.expires_at)


def load_session(db: Session, token: str, now: datetime | None = None) -> SignedIn | None:
    """The live session of ``token``, its idle deadline pushed on; None when there is none."""
    if not token:
        return None
    now = now or datetime.now(UTC)
    found = db.execute(
        select(ConsoleSession, ApiKey)
        .join(ApiKey, ApiKey.id == ConsoleSession.key_id)
        .where(ConsoleSession.token_hash == token_digest(token))
    ).first()
    if found is None:
        return None
    row, key = found
    if row.expires_at <= now or key.revoked_at is not None or key.role not in CONSOLE_ROLES:
        return None  # dead: the next sign-in's purge deletes the row
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
        row.expires_at = min(now + IDLE_TIMEOUT, row.created_at + MAX_AGE)
        db.flush()
    role: Role = key.role  # type: ignore[assignment]  # checked against CONSOLE_ROLES
    principal = Principal(
        key_id=key.id, role=role, name=key.name, prefix=key.prefix, circle_id=key.circle_id
    )
    return SignedIn(principal, row.csrf_token, row.expires_at)


def end_session(db: Session, token: str) -> bool:
    """Sign out: delete the session (True when there was one)."""
    result = db.execute(
        delete(ConsoleSession).where(ConsoleSession.token_hash == token_digest(token))
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def purge_expired(db: Session, now: datetime | None = None) -> None:
    """Drop sessions past their deadline or of revoked keys (run at each sign-in, so the
    table stays small)."""
    revoked = select(ApiKey.id).where(ApiKey.revoked_at.is_not(None))
    db.execute(
        delete(ConsoleSession).where(
            (ConsoleSession.expires_at <= (now or datetime.now(UTC)))
            | ConsoleSession.key_id.in_(revoked)
        )
    )


def csrf_matches(expected: str, given: str | None) -> bool:
    """Constant-time comparison of the session's CSRF token with the one a request sent."""
    return bool(given) and hmac.compare_digest(expected.encode(), str(given).encode())
