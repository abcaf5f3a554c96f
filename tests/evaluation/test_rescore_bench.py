"""The multi-node path for real: a Ray head and a worker node started with ``ray start``
(separate temp dirs, one CPU each) run ``quanzi posts rescore`` beside the local engine,
on copies of one store, with the same results. Slow: two clusters' worth of processes
importing torch on a shared 2-core machine."""

from __future__ import annotations

import sqlite3

import pytest

from quanzi.evaluation.rescore_bench import _pids_of, run_bench
from quanzi.settings import Settings

POSTS = 120


def _results(path: object) -> dict[str, object]:
    with sqlite3.connect(str(path)) as conn:
        posts = conn.execute("SELECT id, status, scored_versions FROM posts ORDER BY id").fetchall()
        scores = conn.execute(
            "SELECT post_id, model_name, model_version, label, round(score, 5) FROM post_scores "
            "ORDER BY post_id, model_name, model_version"
        ).fetchall()
        vectors = conn.execute("SELECT count(*) FROM post_embeddings").fetchone()
    return {"posts": posts, "scores": scores, "vectors": vectors}


@pytest.mark.slow  # ≈ 3–6 min on a loaded 2-core machine: `ray start` twice, actors load torch
def test_two_ray_nodes_rescore_like_the_local_engine(settings: Settings) -> None:
    rows = run_bench(settings, POSTS, ("local", "ray-2nodes"), cpus=2, block_size=25, timeout_s=420)
    by_config = {r.config: r for r in rows}
    assert by_config["local"].posts == by_config["ray-2nodes"].posts == POSTS
    assert by_config["ray-2nodes"].nodes == 2
    data = settings.data_dir / "bench" / "rescore" / "data"
    local, ray = _results(data / "store-local.db"), _results(data / "store-ray-2nodes.db")
    assert local == ray
    assert local["vectors"] == (POSTS,)
    assert not _pids_of("/tmp/quanzi-ray-")  # every node this bench started is stopped
