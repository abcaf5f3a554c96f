"""`load_world`: bulk-insert a built world's public tables into the configured database.

Only the eight public Parquet tables listed in the manifest are read; ``hidden/`` and
``eval/`` are never opened here, so nothing downstream of the database (the serving
path) can see the simulation's truth or the held-out days.

Idempotent: rows are inserted with ON CONFLICT DO NOTHING on their primary keys, so a
second load (or a load resumed after a crash) adds nothing twice; when every table's
last row is already present the load is skipped outright. Loading a *different* world
into a database that holds one is refused, because ids (u000001, …) would collide.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Connection, Engine, Table, column, func, select
from sqlalchemy import table as sa_table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite

from quanzi.datasets.world.build import PUBLIC_TABLES, world_dir
from quanzi.settings import Settings
from quanzi.storage.db import engine_from_settings, upgrade_schema
from quanzi.storage.orm import Base

CHUNK_ROWS = 20_000


class WorldNotFoundError(LookupError):
    """No built world of that name (the message lists the ones there are)."""


class WorldConflictError(RuntimeError):
    """The database already holds a different world."""


def list_worlds(settings: Settings) -> list[str]:
    """Names of the complete worlds under the data directory."""
    root = settings.worlds_dir
    if not root.is_dir():
        return []
    return sorted(
        p.name
        for p in root.iterdir()
        if p.is_dir() and not p.name.startswith(".") and (p / "manifest.json").is_file()
    )


def read_manifest(settings: Settings, name: str) -> dict[str, Any]:
    """The manifest of world ``name``; a clear error naming the available worlds if absent."""
    path = world_dir(settings, name) / "manifest.json"
    if not path.is_file():
        have = list_worlds(settings)
        hint = (
            f"available: {', '.join(have)}"
            if have
            else ("none built yet; run `quanzi world build --posts N --seed S`")
        )
        raise WorldNotFoundError(f"no world named {name!r} in {settings.worlds_dir} ({hint})")
    return json.loads(path.read_text())


def _insert(conn: Connection, table: Table, batch: pa.RecordBatch) -> None:
    """Insert one batch straight through the driver, skipping rows whose key is there.

    Per-row SQLAlchemy parameter processing is ~5x slower than the load itself, so rows
    go to the DBAPI as tuples. Timestamps: SQLite gets them pre-formatted by Arrow exactly
    as SQLAlchemy's SQLite DATETIME stores them (UTC wall time with microseconds), which
    is what ``UTCDateTime`` reads back; PostgreSQL gets aware datetimes (timestamptz).
    """
    dialect = conn.dialect.name
    if dialect not in ("sqlite", "postgresql"):  # pragma: no cover
        raise RuntimeError(f"world load supports SQLite and PostgreSQL, not {dialect}")
    cols = []
    for field, col in zip(batch.schema, batch.columns, strict=True):
        if dialect == "sqlite" and pa.types.is_timestamp(field.type):
            col = pc.strftime(col.cast(pa.timestamp("us", tz="UTC")), format="%Y-%m-%d %H:%M:%S")
        cols.append(col.to_pylist())
    rows = list(zip(*cols, strict=True))
    conn.exec_driver_sql(_insert_sql(dialect, table.name, tuple(batch.schema.names)), rows)


@functools.lru_cache(maxsize=64)
def _insert_sql(dialect: str, table_name: str, names: tuple[str, ...]) -> str:
    """``INSERT … ON CONFLICT DO NOTHING`` with positional markers, written by SQLAlchemy's
    compiler (identifiers quoted by the dialect), never by formatting strings."""
    target = sa_table(table_name, *(column(n) for n in names))
    if dialect == "sqlite":
        stmt, compile_for = sqlite_insert(target), SQLiteDialect_pysqlite()
    else:  # psycopg takes positional %s markers with tuples
        stmt, compile_for = pg_insert(target), PGDialect_psycopg(paramstyle="format")
    compiled = stmt.on_conflict_do_nothing().compile(dialect=compile_for, column_keys=names)
    assert list(compiled.positiontup or []) == list(names), "markers must follow the columns"
    return str(compiled)


def _key(table: Table) -> str:
    """The column that identifies a row for the "already loaded?" probe (first key column)."""
    return next(iter(table.primary_key.columns)).name


def _last_row(path: Path, key: str = "id") -> dict[str, Any]:
    f = pq.ParquetFile(path)
    rg = f.read_row_group(f.num_row_groups - 1, columns=[key])
    return {key: rg.column(key)[-1].as_py()}


def _tables_of(manifest: dict[str, Any]) -> list[str]:
    """The public tables this world has (worlds built before issue 17 lack the Q&A ones)."""
    return [t for t in PUBLIC_TABLES if t in manifest["tables"]]


def _fully_loaded(engine: Engine, world: Path, manifest: dict[str, Any]) -> bool:
    """True when each table's last row is already in the database."""
    with engine.connect() as conn:
        for name in _tables_of(manifest):
            if manifest["tables"][name]["rows"] == 0:
                continue
            table = Base.metadata.tables[name]
            key = _key(table)
            last = _last_row(world / manifest["tables"][name]["file"], key)[key]
            if conn.execute(select(table.c[key]).where(table.c[key] == last)).first() is None:
                return False
    return True


def _check_same_world(engine: Engine, world: Path) -> None:
    """Refuse when the database's users with this world's first ids look different."""
    probe = pq.read_table(world / "users.parquet", columns=["id", "display_name"]).slice(0, 5)
    ids = probe.column("id").to_pylist()
    mine = dict(zip(ids, probe.column("display_name").to_pylist(), strict=True))
    users = Base.metadata.tables["users"]
    with engine.connect() as conn:
        theirs = dict(
            conn.execute(select(users.c.id, users.c.display_name).where(users.c.id.in_(ids))).all()
        )
    if any(mine[i] != n for i, n in theirs.items()):
        raise WorldConflictError(
            f"the database ({engine.url.render_as_string(hide_password=True)}) already holds a "
            "different world; load into a fresh database (another QUANZI_DATA_DIR or "
            "QUANZI_DATABASE_URL)"
        )


def _fix_sequences(conn: Connection) -> None:
    """PostgreSQL: move serial sequences past the explicit ids we inserted."""
    for name in ("user_relations", "brand_relations", "interactions", "topics", "question_invites"):
        table = Base.metadata.tables[name]
        highest = select(func.max(table.c.id)).scalar_subquery()
        conn.execute(
            select(func.setval(func.pg_get_serial_sequence(name, "id"), func.coalesce(highest, 1)))
        )


def load_world(settings: Settings, name: str, *, progress: bool = True) -> dict[str, int]:
    """Insert world ``name``'s public tables; return rows inserted per table (0 if present)."""
    manifest = read_manifest(settings, name)
    world = world_dir(settings, name)
    upgrade_schema(settings)
    engine = engine_from_settings(settings)
    try:
        _check_same_world(engine, world)
        inserted = dict.fromkeys(_tables_of(manifest), 0)
        if _fully_loaded(engine, world, manifest):
            return inserted
        total = sum(manifest["tables"][t]["rows"] for t in _tables_of(manifest))
        bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            disable=not progress,
        )
        with bar:
            task = bar.add_task(f"load {name}", total=total)
            for tname in _tables_of(manifest):
                table = Base.metadata.tables[tname]
                bar.update(task, description=f"load {name}: {tname}")
                with engine.connect() as conn:
                    before = conn.execute(select(func.count()).select_from(table)).scalar_one()
                f = pq.ParquetFile(world / manifest["tables"][tname]["file"])
                for batch in f.iter_batches(batch_size=CHUNK_ROWS):
                    with engine.begin() as conn:
                        _insert(conn, table, batch)
                    bar.advance(task, batch.num_rows)
                with engine.connect() as conn:
                    after = conn.execute(select(func.count()).select_from(table)).scalar_one()
                inserted[tname] = int(after - before)
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:
                _fix_sequences(conn)
        return inserted
    finally:
        engine.dispose()
