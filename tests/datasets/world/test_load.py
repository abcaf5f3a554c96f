"""Loading a world into a database: counts match the manifest, repeat loads are harmless."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from quanzi.datasets.world.build import PUBLIC_TABLES, build_world
from quanzi.datasets.world.load import (
    WorldConflictError,
    WorldNotFoundError,
    list_worlds,
    load_world,
)
from quanzi.settings import Settings
from quanzi.storage.db import engine_from_settings
from quanzi.storage.orm import Base, Interaction, Post, User


def _counts(settings: Settings) -> dict[str, int]:
    engine = engine_from_settings(settings)
    try:
        with engine.connect() as conn:
            return {
                t: conn.execute(
                    select(func.count()).select_from(Base.metadata.tables[t])
                ).scalar_one()
                for t in PUBLIC_TABLES
            }
    finally:
        engine.dispose()


def _db_settings(world_settings: Settings, db_file: Path) -> Settings:
    return Settings(data_dir=world_settings.data_dir, database_url=f"sqlite:///{db_file}")


@pytest.fixture(scope="module")
def loaded(
    world: Path, world_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Settings, dict[str, int]]:
    """The test world loaded once into a fresh SQLite file: (settings, rows inserted)."""
    settings = _db_settings(world_settings, tmp_path_factory.mktemp("db") / "world.db")
    return settings, load_world(settings, world.name, progress=False)


def test_load_gives_manifest_counts_and_second_load_adds_nothing(
    world: Path, loaded: tuple[Settings, dict[str, int]]
) -> None:
    settings, first = loaded
    manifest = json.loads((world / "manifest.json").read_text())
    expected = {t: manifest["tables"][t]["rows"] for t in PUBLIC_TABLES}
    assert first == expected
    assert _counts(settings) == expected
    assert load_world(settings, world.name, progress=False) == dict.fromkeys(PUBLIC_TABLES, 0)
    assert _counts(settings) == expected


def test_interrupted_load_resumes_without_duplicates(
    world: Path, loaded: tuple[Settings, dict[str, int]]
) -> None:
    settings, _ = loaded
    engine = engine_from_settings(settings)
    inter = Base.metadata.tables["interactions"]
    with engine.begin() as conn:  # lose the tail of the last table, as a crash would
        conn.execute(inter.delete().where(inter.c.id > 100))
    engine.dispose()
    again = load_world(settings, world.name, progress=False)
    manifest = json.loads((world / "manifest.json").read_text())
    assert again["interactions"] == manifest["tables"]["interactions"]["rows"] - 100
    assert _counts(settings)["interactions"] == manifest["tables"]["interactions"]["rows"]


def test_loaded_rows_read_back_equal_to_the_parquet_tables(
    world: Path, loaded: tuple[Settings, dict[str, int]]
) -> None:
    settings, _ = loaded
    posts = pd.read_parquet(world / "posts.parquet").set_index("id")
    engine = engine_from_settings(settings)
    try:
        with Session(engine) as session:
            for pid in (posts.index[0], posts.index[len(posts) // 2], posts.index[-1]):
                row = session.get(Post, pid)
                assert row is not None and row.text == posts.loc[pid, "text"]
                assert row.created_at == posts.loc[pid, "created_at"].to_pydatetime()
                assert row.created_at.tzinfo is not None
                expected = posts.loc[pid, "order_id"]
                assert row.order_id == (None if pd.isna(expected) else expected)
            merchant = session.get(User, "u000001")
            assert merchant is not None and merchant.kind == "merchant"
            assert merchant.merchant_circle_id is not None
    finally:
        engine.dispose()


def test_database_never_receives_hidden_truth_or_held_out_days(
    world: Path, loaded: tuple[Settings, dict[str, int]]
) -> None:
    settings, _ = loaded
    hidden = set(pd.read_parquet(world / "hidden/posts_truth.parquet").columns)
    hidden -= {"kind", "post_id"}
    engine = engine_from_settings(settings)
    try:
        insp = inspect(engine)
        for table in insp.get_table_names():
            assert not hidden & {c["name"] for c in insp.get_columns(table)}, table
        cutoff = json.loads((world / "manifest.json").read_text())["cutoff"]
        inter = Base.metadata.tables["interactions"]
        with engine.connect() as conn:
            latest = conn.execute(select(func.max(inter.c.created_at))).scalar_one()
        assert latest < pd.Timestamp(cutoff).to_pydatetime()
    finally:
        engine.dispose()


def test_loading_a_different_world_into_the_same_database_is_refused(
    world_settings: Settings, loaded: tuple[Settings, dict[str, int]]
) -> None:
    settings, _ = loaded
    other = build_world(world_settings, 300, 99, name="small-other", progress=False)
    with pytest.raises(WorldConflictError, match="different world"):
        load_world(settings, other.name, progress=False)


def test_unknown_world_error_lists_the_available_ones(
    world: Path, world_settings: Settings
) -> None:
    assert world.name in list_worlds(world_settings)
    with pytest.raises(WorldNotFoundError, match=world.name):
        load_world(world_settings, "no-such-world", progress=False)


def test_load_on_postgresql_is_idempotent_and_leaves_sequences_usable(
    world: Path, world_settings: Settings, db_url: str
) -> None:
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite is covered by the tests above")
    settings = Settings(data_dir=world_settings.data_dir, database_url=db_url)
    manifest = json.loads((world / "manifest.json").read_text())
    expected = {t: manifest["tables"][t]["rows"] for t in PUBLIC_TABLES}
    assert load_world(settings, world.name, progress=False) == expected
    assert load_world(settings, world.name, progress=False) == dict.fromkeys(PUBLIC_TABLES, 0)
    assert _counts(settings) == expected
    engine = engine_from_settings(settings)
    try:
        with Session(engine) as session:  # the service's own inserts get fresh ids
            post = session.get(Post, "p0000001")
            assert post is not None and post.created_at.tzinfo is not None
            row = Interaction(
                user_id="u000010", post_id="p0000001", kind="click", created_at=post.created_at
            )
            session.add(row)
            session.commit()
            assert row.id == expected["interactions"] + 1
    finally:
        engine.dispose()
