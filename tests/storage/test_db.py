"""Engines and transactions: WAL on SQLite, psycopg 3 for PostgreSQL, all-or-nothing writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import IntegrityError

from quanzi.settings import Settings
from quanzi.storage.db import (
    current_revision,
    engine_from_settings,
    head_revision,
    make_engine,
    session_factory,
    session_scope,
    upgrade_schema,
)
from quanzi.storage.orm import Circle


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'nested' / 'q.db'}")
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        engine.dispose()
    assert (tmp_path / "nested" / "q.db").exists()


def test_in_memory_sqlite_creates_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    engine = make_engine("sqlite://")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1
    engine.dispose()
    assert list(tmp_path.iterdir()) == []


def test_plain_postgresql_url_uses_psycopg3() -> None:
    engine = make_engine("postgresql://quanzi@127.0.0.1:1/none")  # no connection is made
    assert engine.dialect.driver == "psycopg"
    engine.dispose()


def test_malformed_url_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="not a database URL"):
        make_engine("quanzi.db")


def test_settings_default_database_is_sqlite_in_the_data_dir(settings: Settings) -> None:
    upgrade_schema(settings)
    engine = engine_from_settings(settings)
    try:
        assert engine.dialect.name == "sqlite"
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()
    assert (settings.data_dir / "quanzi.db").exists()


def _names(engine: Engine) -> list[str]:
    with session_factory(engine)() as session:
        return list(session.scalars(select(Circle.name).order_by(Circle.id)))


def test_failed_transaction_leaves_stored_data_unchanged(
    engine: Engine, factory: Any, session: Any
) -> None:
    factory.circle(id="c-1", name="before")
    session.commit()
    sessions = session_factory(engine)

    with pytest.raises(RuntimeError, match="boom"), session_scope(sessions) as s:
        stored = s.get(Circle, "c-1")
        assert stored is not None
        stored.name = "after"
        s.add(Circle(id="c-2", name="new", category="food", brand="B"))
        s.flush()  # the writes reached the database inside the transaction…
        raise RuntimeError("boom")

    assert _names(engine) == ["before"]  # …and were rolled back


def test_integrity_error_rolls_back_the_whole_scope(engine: Engine) -> None:
    sessions = session_factory(engine)
    with session_scope(sessions) as s:
        s.add(Circle(id="c-1", name="kept", category="food", brand="B"))

    with pytest.raises(IntegrityError), session_scope(sessions) as s:
        s.add(Circle(id="c-2", name="lost", category="food", brand="B"))
        s.flush()
        s.add(Circle(id="c-1", name="dup", category="food", brand="B"))

    assert _names(engine) == ["kept"]
    with session_scope(sessions) as s:
        assert s.execute(select(func.count()).select_from(Circle)).scalar_one() == 1
