"""The mixed feed bench runs on a scratch copy of its store, remade for every run."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from quanzi.evaluation.feed_bench import BenchPlan, scratch_copy


def _count(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("select count(*) from posts").fetchone()[0])


def test_each_mixed_run_starts_from_the_bench_store_not_the_last_run(tmp_path: Path) -> None:
    source = tmp_path / "feed-w"
    (source / "index" / "v1").mkdir(parents=True)
    (source / "index" / "v1" / "vectors.faiss").write_bytes(b"faiss")
    (source / "models").mkdir()
    with sqlite3.connect(source / "quanzi.db") as conn:
        conn.execute("create table posts (id text primary key)")
        conn.executemany("insert into posts values (?)", [("p-1",), ("p-2",)])
    plan = BenchPlan(source, "key", "c-1", ["p-1"], ["u-1"], "2026-11-11T00:00:00")

    first = scratch_copy(plan)
    assert first.data_dir != source and first.key == "key" and first.circle_id == "c-1"
    assert (first.data_dir / "index" / "v1" / "vectors.faiss").read_bytes() == b"faiss"
    assert (first.data_dir / "models").resolve() == (source / "models").resolve()
    with sqlite3.connect(first.data_dir / "quanzi.db") as conn:  # a run ingests into the copy
        conn.execute("insert into posts values ('mix-1')")
    (first.data_dir / "index" / "v1" / "vectors.faiss").write_bytes(b"grown")
    assert _count(source / "quanzi.db") == 2

    second = scratch_copy(plan)
    assert _count(second.data_dir / "quanzi.db") == 2
    assert (second.data_dir / "index" / "v1" / "vectors.faiss").read_bytes() == b"faiss"
