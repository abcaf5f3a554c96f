"""``quanzi index rebuild|stats`` and ``quanzi bench index`` on a temporary data dir."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from quanzi.cli_groups import app
from quanzi.commands import register_all
from quanzi.models.index import load_index
from quanzi.settings import Settings
from quanzi.storage.db import engine_from_settings, session_factory, upgrade_schema

register_all()
runner = CliRunner()


def _store_with_posts(settings: Settings, factory_class, n: int = 30) -> None:
    upgrade_schema(settings)
    with session_factory(engine_from_settings(settings))() as session:
        f = factory_class(session)
        circle, author = f.circle(id="c1"), f.user()
        for i in range(n):
            f.post(circle, author, id=f"post-{i}")
        session.commit()


def test_rebuild_from_vectors_file_then_stats(
    settings: Settings, tmp_path: Path, factory_class
) -> None:
    _store_with_posts(settings, factory_class)
    vectors = np.random.default_rng(0).standard_normal((32, 12)).astype(np.float32)
    np.save(tmp_path / "v.npy", vectors)
    (tmp_path / "ids.txt").write_text(
        "".join(f"post-{i}\n" for i in range(30)) + "not-a-post\nalso-not\n", encoding="utf-8"
    )
    result = runner.invoke(
        app,
        [
            "index",
            "rebuild",
            "-e",
            "enc-1",
            "--vectors",
            str(tmp_path / "v.npy"),
            "--ids",
            str(tmp_path / "ids.txt"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "skipped 2 ids" in result.output and "30 posts, flat, dim 12" in result.output
    index = load_index(settings.index_dir, "enc-1")
    assert index.search(vectors[4], 1)[0][0] == "post-4"
    assert index.meta("post-4").circle_id == "c1"

    stats = runner.invoke(app, ["index", "stats"])
    assert stats.exit_code == 0, stats.output
    assert "enc-1" in stats.output and "flat" in stats.output

    # A second rebuild needs no files: the vectors are in the store now.
    again = runner.invoke(app, ["index", "rebuild", "-e", "enc-1"])
    assert again.exit_code == 0 and "30 posts" in again.output


def test_rebuild_errors_say_what_to_fix(settings: Settings, tmp_path: Path) -> None:
    np.save(tmp_path / "v.npy", np.ones((2, 4), dtype=np.float32))
    half = runner.invoke(app, ["index", "rebuild", "-e", "x", "--vectors", str(tmp_path / "v.npy")])
    assert half.exit_code == 2 and "--vectors and --ids go together" in half.output
    no_schema = runner.invoke(app, ["index", "rebuild", "-e", "x"])
    assert no_schema.exit_code == 2 and "quanzi db upgrade" in no_schema.output
    assert "Traceback" not in no_schema.output
    upgrade_schema(settings)
    empty = runner.invoke(app, ["index", "rebuild", "-e", "x"])
    assert empty.exit_code == 2 and "nothing to index" in empty.output


def test_stats_without_an_index_and_with_a_damaged_one(settings: Settings) -> None:
    none = runner.invoke(app, ["index", "stats"])
    assert none.exit_code == 1 and "quanzi index rebuild" in none.output
    (settings.index_dir / "enc-9").mkdir(parents=True)
    (settings.index_dir / "enc-9" / "manifest.json").write_text("[]", encoding="utf-8")
    bad = runner.invoke(app, ["index", "stats"])
    assert bad.exit_code == 1 and "unreadable" in bad.output


def test_bench_index_prints_recall_latency_and_honours_deletions(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = runner.invoke(
        app,
        [
            "bench",
            "index",
            "--n",
            "3000",
            "--dim",
            "16",
            "--queries",
            "30",
            "--ef-search",
            "16,64",
            "--build-threads",
            "1",
            "--json-out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "recall@10" in result.output
    figures = json.loads(out.read_text())
    assert figures["index_kind"] == "hnsw" and figures["deleted"] == 300
    assert all(row["deleted_returned"] == 0 for row in figures["sweep"])
    assert figures["chosen"]["recall"] >= 0.9 and figures["filtered"]["recall"] >= 0.9
    bad = runner.invoke(app, ["bench", "index", "--ef-search", "a,b"])
    assert bad.exit_code == 2 and "--ef-search" in bad.output
