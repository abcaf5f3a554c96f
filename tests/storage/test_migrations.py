"""Migrations build exactly the schema the ORM declares, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from quanzi.storage.db import (
    current_revision,
    downgrade_url,
    head_revision,
    make_engine,
    upgrade_url,
)
from quanzi.storage.orm import Base

APP_TABLES = set(Base.metadata.tables)


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def _revision(url: str) -> str | None:
    engine = make_engine(url)
    try:
        return current_revision(engine)
    finally:
        engine.dispose()


def test_migrations_go_up_down_and_up_again(db_url: str) -> None:
    assert _tables(db_url) == set()
    assert _revision(db_url) is None

    upgrade_url(db_url)
    assert _tables(db_url) == APP_TABLES
    assert _revision(db_url) == head_revision()

    downgrade_url(db_url, "base")
    assert _tables(db_url) == set()
    assert _revision(db_url) is None

    upgrade_url(db_url)
    assert _tables(db_url) == APP_TABLES
    assert _revision(db_url) == head_revision()


def test_upgrade_twice_is_a_no_op(db_url: str) -> None:
    upgrade_url(db_url)
    upgrade_url(db_url)
    assert _revision(db_url) == head_revision()


def test_orm_matches_migrations(db_url: str) -> None:
    upgrade_url(db_url)
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == [], f"ORM and migrations differ; add a migration for: {diff}"
