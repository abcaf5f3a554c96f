"""API keys with roles: created by ``quanzi keys``, stored as salted hashes, checked per request.

A key reads ``qz_<prefix>_<secret>``: the prefix is a public id that finds the row, the
secret carries 256 random bits and only ``sha256(salt ‖ key)`` of it is stored, so a
copy of the database grants nothing. A plain hash (no scrypt) is enough because the key
is random, not a password someone chose. No FastAPI here: the CLI and the benchmarks use it too.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, get_args

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from quanzi.settings import Settings
from quanzi.storage.db import settings_session
from quanzi.storage.orm import API_KEY_ROLES, ApiKey

Role = Literal["feed-service", "ingest", "editor", "admin", "brand-manager"]
ROLES: tuple[Role, ...] = get_args(Role)
assert set(ROLES) == set(API_KEY_ROLES), "Role must list storage.orm.API_KEY_ROLES"

KEY_PREFIX = "qz"
DEV_KEY_FILE = "dev-admin.key"  # in the data dir; written by ensure_dev_key for local use
CACHE_SECONDS = 5.0  # a revoked key stops working in every worker within this bound


class UnknownKey(LookupError):
    """No key with that id or prefix."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id, role and name (the name is recorded as editor/actor)."""

    key_id: int
    role: Role
    name: str
    prefix: str
    circle_id: str | None = None  # a brand-manager key's own circle

    @property
    def actor(self) -> str:
        """What decisions and overrides record as their author."""
        return self.name or f"key-{self.prefix}"


def _hash(salt: str, key: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + key.encode()).hexdigest()


def _split(key: str) -> str | None:
    """The prefix of a well-formed key, else ``None``."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or len(parts[2]) < 32:
        return None
    return parts[1]


def create_key(
    session: Session, role: str, name: str = "", circle_id: str | None = None
) -> tuple[ApiKey, str]:
    """Store a new key for ``role``; return the row and the key (shown once, never stored).
    A brand-manager key names the one circle it manages (``circle_id``), no other role does."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    if (role == "brand-manager") != (circle_id is not None):
        raise ValueError("a brand-manager key needs its circle (and only it takes one)")
    prefix = secrets.token_hex(6)
    key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"  # 32 bytes = 256 bits
    salt = secrets.token_hex(16)
    row = ApiKey(
        prefix=prefix,
        salt=salt,
        key_hash=_hash(salt, key),
        role=role,
        name=name[:100],
        circle_id=circle_id,
    )
    session.add(row)
    session.flush()
    return row, key


def verify_key(session: Session, key: str) -> Principal | None:
    """The principal of a valid, unrevoked key; ``None`` for anything else."""
    prefix = _split(key)
    if prefix is None:
        return None
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.key_hash, _hash(row.salt, key)):
        return None
    return Principal(
        key_id=row.id,
        role=row.role,
        name=row.name,  # type: ignore[arg-type]
        prefix=row.prefix,
        circle_id=row.circle_id,
    )


def list_keys(session: Session) -> list[ApiKey]:
    """Every key, oldest first (revoked ones too, so the history stays visible)."""
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


def revoke_key(session: Session, ident: str) -> ApiKey:
    """Revoke a key by prefix or by numeric id (idempotent: a revoked key stays revoked).

    The prefix is tried first: a random hex prefix can be all digits, and must not be
    read as an id.
    """
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == ident))
    if row is None and ident.isdigit():
        row = session.scalar(select(ApiKey).where(ApiKey.id == int(ident)))
    if row is None:
        raise UnknownKey(f"no API key with id or prefix {ident!r}; see `quanzi keys list`")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
    return row


def ensure_dev_key(settings: Settings) -> str:
    """An admin key for local development, created once and kept in the data dir.

    ``quanzi bootstrap`` calls this after migrating, so the README's curl walk-through has
    a key to use (``$QUANZI_DATA_DIR/dev-admin.key``). Refused in production, where keys
    are made on purpose with ``quanzi keys create``.
    """
    if settings.env == "production":
        raise RuntimeError("no development key in production: use `quanzi keys create`")
    path = settings.data_dir / DEV_KEY_FILE
    with settings_session(settings) as session:
        if path.is_file():
            key = path.read_text().strip()
            principal = verify_key(session, key)
            if principal is not None and principal.role == "admin":
                return key
        _, key = create_key(session, "admin", name="dev-admin")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(key + "\n")
    path.chmod(0o600)
    return key


class KeyRing:
    """Verifies keys for the app, remembering good ones for ``ttl_s`` seconds.

    Without it every request would read ``api_keys``; with it a revocation (made by the
    CLI, possibly in another process) takes effect within ``ttl_s``. Only valid keys are
    cached, and the cache is bounded, so random keys cannot fill memory.
    """

    def __init__(self, ttl_s: float = CACHE_SECONDS, max_entries: int = 4096) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._cache: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def _fresh(self, digest: str) -> Principal | None:
        hit = self._cache.get(digest)
        return hit[1] if hit is not None and hit[0] > time.monotonic() else None

    def cached(self, key: str) -> Principal | None:
        """The principal of a key verified within ``ttl_s`` (no database read), else None."""
        return self._fresh(hashlib.sha256(key.encode()).hexdigest())

    def verify(self, sessions: sessionmaker[Session], key: str) -> Principal | None:
        digest = hashlib.sha256(key.encode()).hexdigest()  # never keep raw keys in memory
        hit = self._fresh(digest)
        if hit is not None:
            return hit
        now = time.monotonic()
        with sessions() as session:
            principal = verify_key(session, key)
        with self._lock:
            if principal is None:
                self._cache.pop(digest, None)
            elif self.ttl_s > 0:
                if len(self._cache) >= self.max_entries:
                    self._cache.clear()
                self._cache[digest] = (now + self.ttl_s, principal)
        return principal
