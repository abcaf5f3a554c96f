"""API keys: only hashes are stored, verification, revocation, the cache bound, the dev key."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from quanzi.settings import Settings
from quanzi.storage.api_keys import (
    DEV_KEY_FILE,
    KeyRing,
    UnknownKey,
    create_key,
    ensure_dev_key,
    list_keys,
    revoke_key,
    verify_key,
)
from quanzi.storage.db import engine_from_settings, session_factory, upgrade_schema
from quanzi.storage.orm import ApiKey


def test_key_is_stored_only_as_a_salted_hash(session: Session) -> None:
    row, key = create_key(session, "editor", "alice")
    stored = session.execute(select(ApiKey.prefix, ApiKey.salt, ApiKey.key_hash)).one()
    assert key.startswith(f"qz_{row.prefix}_") and len(key) >= 50
    assert key.split("_", 2)[2] not in "".join(stored)
    _, other = create_key(session, "editor", "bob")
    assert row.salt != list_keys(session)[1].salt and key != other


def test_verify_accepts_the_key_and_nothing_near_it(session: Session) -> None:
    row, key = create_key(session, "feed-service", "feed")
    principal = verify_key(session, key)
    assert principal is not None
    assert (principal.key_id, principal.role, principal.actor) == (row.id, "feed-service", "feed")
    assert verify_key(session, key[:-1] + ("x" if key[-1] != "x" else "y")) is None
    assert verify_key(session, "") is None
    assert verify_key(session, "qz_" + row.prefix) is None


def test_unknown_role_is_refused(session: Session) -> None:
    with pytest.raises(ValueError, match="unknown role 'root'"):
        create_key(session, "root")


def test_revoke_by_id_or_prefix(session: Session) -> None:
    row, key = create_key(session, "ingest")
    revoke_key(session, str(row.id))
    assert verify_key(session, key) is None
    assert revoke_key(session, row.prefix).revoked_at is not None  # idempotent
    with pytest.raises(UnknownKey, match="quanzi keys list"):
        revoke_key(session, "nope")


def test_revoke_by_an_all_digit_prefix_is_not_read_as_an_id(session: Session) -> None:
    """A random hex prefix is all digits about once in 300 keys (a CI run hit it)."""
    first, _ = create_key(session, "ingest")
    row, _ = create_key(session, "ingest")
    row.prefix = "413223577038"
    session.flush()
    revoke_key(session, "413223577038")
    assert row.revoked_at is not None and first.revoked_at is None


def test_keyring_keeps_a_revoked_key_only_for_its_ttl(settings: Settings) -> None:
    upgrade_schema(settings)
    engine = engine_from_settings(settings)
    sessions = session_factory(engine)
    try:
        with sessions.begin() as s:
            row, key = create_key(s, "editor")
        ring = KeyRing(ttl_s=0.3)
        assert ring.verify(sessions, key) is not None
        with sessions.begin() as s:
            revoke_key(s, row.prefix)
        assert ring.verify(sessions, key) is not None  # cached
        time.sleep(0.35)
        assert ring.verify(sessions, key) is None
        assert ring.verify(sessions, "qz_bogus_" + "x" * 40) is None
    finally:
        engine.dispose()


def test_dev_key_is_made_once_and_reused(settings: Settings) -> None:
    upgrade_schema(settings)
    key = ensure_dev_key(settings)
    assert ensure_dev_key(settings) == key
    path = settings.data_dir / DEV_KEY_FILE
    assert path.read_text().strip() == key
    assert path.stat().st_mode & 0o077 == 0


def test_dev_key_is_replaced_when_revoked(settings: Settings) -> None:
    upgrade_schema(settings)
    key = ensure_dev_key(settings)
    engine = engine_from_settings(settings)
    try:
        with session_factory(engine).begin() as s:
            revoke_key(s, key.split("_")[1])
    finally:
        engine.dispose()
    assert ensure_dev_key(settings) != key


def test_no_dev_key_in_production(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path, env="production", database_url="sqlite://")
    with pytest.raises(RuntimeError, match="quanzi keys create"):
        ensure_dev_key(settings)
