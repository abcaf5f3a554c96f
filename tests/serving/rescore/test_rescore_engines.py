"""Rescore on both engines, SQLite and PostgreSQL: Ray equals local, kill + resume equals an
uninterrupted run, a second run is a no-op.

Ray runs on a local cluster this module starts (``ray.init(num_cpus=2)``); every run has a
time limit that fails loudly (a starved actor pool hangs without an error).
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from quanzi_tests import rescore_models as rm
from sqlalchemy import Engine, func, select

from quanzi.models.index import load_index
from quanzi.serving.rescore.local import Job, Summary, run_local, save_encoder_index
from quanzi.serving.rescore.plan import Plan, Selection, plan_run
from quanzi.settings import Settings
from quanzi.storage.db import session_factory
from quanzi.storage.orm import Base, Post, PostEmbedding, RescoreBlock

N_POSTS = 150
BLOCK = 16
RUN_LIMIT_S = 180.0


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    rm.ray_pickling()
    try:
        yield
    finally:
        ray.shutdown()


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _reseed(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    with session_factory(engine)() as session:
        rm.seed_store(session, N_POSTS)


def _rescore(
    engine: Engine, settings: Settings, versions: dict[str, str], how: str, **selection: Any
) -> Summary:
    plan = plan_run(engine, versions, Selection(**selection), block_size=BLOCK)
    job = Job(settings, _url(engine), plan, loader=rm.load_test_versions)
    if how == "ray":
        from quanzi.serving.rescore.ray_engine import run_ray

        return run_ray(job, timeout_s=RUN_LIMIT_S)
    return run_local(job, timeout_s=RUN_LIMIT_S)


def _state(engine: Engine) -> dict[str, Any]:
    with session_factory(engine)() as session:
        state = rm.store_state(session)
        state["vectors"] = {
            (e.post_id, e.encoder_version): np.frombuffer(e.vector, dtype="<f4")
            for e in session.scalars(select(PostEmbedding))
        }
    return state


def _assert_same(a: dict[str, Any], b: dict[str, Any]) -> None:
    """Decisions, labels, versions exactly; scores and vectors within float tolerance."""
    assert a["posts"] == b["posts"]
    assert a["reviews"] == b["reviews"]
    assert a["scores"].keys() == b["scores"].keys()
    for key, (label, score, payload) in a["scores"].items():
        other = b["scores"][key]
        assert label == other[0], key
        assert (score is None) == (other[1] is None) and (
            score is None or math.isclose(score, other[1], rel_tol=1e-6, abs_tol=1e-9)
        ), key
        assert payload == pytest.approx(other[2]) if key[1] == "quality" else payload == other[2]
    assert a["vectors"].keys() == b["vectors"].keys()
    for key, vec in a["vectors"].items():
        np.testing.assert_allclose(vec, b["vectors"][key], atol=1e-6)


def test_ray_engine_equals_local_engine_and_a_second_run_is_a_noop(
    engine: Engine, settings: Settings, ray_cluster: None
) -> None:
    results = {}
    for how in ("local", "ray"):
        _reseed(engine)
        first = _rescore(engine, settings, rm.V1, "local")
        assert first.posts == N_POSTS - 1  # every post but the removed one
        # A stricter moderation version and a new encoder version, on the engine tested.
        promoted = _rescore(engine, settings, rm.V2, how)
        assert promoted.posts == N_POSTS - 1 and promoted.embedded == N_POSTS - 1
        again = _rescore(engine, settings, rm.V2, how)
        assert again.posts == 0 and again.blocks == 0
        state = _state(engine)
        state["index"] = _saved_index(engine, settings, promoted, state)
        results[how] = (state, promoted)
    (local, l2), (ray_state, r2) = results["local"], results["ray"]
    _assert_same(local, ray_state)
    assert local["index"] == ray_state["index"]
    assert l2.changes == r2.changes
    # Version 2 rejects every single coupon push that version 1 sent to review.
    assert l2.changes["review→reject ad"] > 0
    key = "moderation=2;quality=1;trust=1;encoder=hash-256-v2"
    statuses = {pid: status for pid, (status, _) in local["posts"].items()}
    assert statuses["p-000002"] == "pass"  # the editor's decision stands
    assert statuses["p-000003"] == "removed"
    assert {v for pid, (_, v) in local["posts"].items() if pid != "p-000003"} == {key}
    # One row per (post, model, version): v1 and v2 moderation rows, one quality row.
    assert ("p-000000", "moderation", "1") in local["scores"]
    assert ("p-000000", "moderation", "2") in local["scores"]
    assert len({k for k in local["scores"] if k[1] == "quality"}) == N_POSTS - 1
    # Both encoder versions' vectors are kept (the old index serves until the switch).
    assert {v for _, v in local["vectors"]} == {"hash-256", "hash-256-v2"}


def _saved_index(
    engine: Engine, settings: Settings, run: Summary, state: dict[str, Any]
) -> list[str]:
    """The new encoder's index merged from the run's shards: every indexable post, with
    the vector the store holds."""
    job = Job(settings, _url(engine), Plan("index", rm.V2, Selection(), [], 0, 0))
    assert len(run.shards) == N_POSTS - 1  # one vector per re-embedded post
    assert save_encoder_index(job, "hash-256-v2", run.shards) == len(
        [p for p, (status, _) in state["posts"].items() if status in ("pass", "review")]
    )
    index = load_index(settings.index_dir, "hash-256-v2")
    for pid in index.ids():
        np.testing.assert_allclose(
            index.vector(pid), state["vectors"][(pid, "hash-256-v2")], atol=1e-6
        )
    return sorted(index.ids())


def test_selection_by_circle_and_time_touches_only_those_posts(
    engine: Engine, settings: Settings
) -> None:
    _reseed(engine)
    from datetime import UTC, datetime

    since = datetime(2026, 11, 1, 1, 0, tzinfo=UTC)  # posts are one minute apart from 00:00
    summary = _rescore(engine, settings, rm.V1, "local", circle_ids=("c-b",), since=since)
    state = _state(engine)
    touched = {pid for pid, (_, v) in state["posts"].items() if v is not None}
    expected = {f"p-{i:06d}" for i in range(60, N_POSTS) if i % 2 == 1 and i != 3}
    assert touched == expected and summary.posts == len(expected)


def _kill_when_blocks_done(engine: Engine, settings: Settings, blocks: int) -> int:
    """Run the local engine in a subprocess; SIGKILL it once ``blocks`` blocks committed."""
    script = Path(__file__).with_name("rescore_job.py")
    env = {**os.environ, "QUANZI_DATA_DIR": str(settings.data_dir)}
    proc = subprocess.Popen(
        [sys.executable, str(script), _url(engine), str(BLOCK)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                done = conn.scalar(
                    select(func.count())
                    .select_from(RescoreBlock)
                    .where(RescoreBlock.finished_at.is_not(None))
                )
            if done >= blocks:
                proc.send_signal(signal.SIGKILL)
                break
            if proc.poll() is not None:
                out = proc.stdout.read().decode() if proc.stdout else ""
                raise AssertionError(f"the rescore ended before it was killed: {out}")
            time.sleep(0.05)
        else:
            raise AssertionError("the rescore committed no block within 60 s")
    finally:
        proc.kill()
        proc.wait(10)
    with engine.connect() as conn:
        return int(
            conn.scalar(
                select(func.count()).select_from(Post).where(Post.scored_versions.is_not(None))
            )
        )


def test_killed_rescore_resumes_to_the_uninterrupted_state(
    engine: Engine, settings: Settings, ray_cluster: None
) -> None:
    """Killed (SIGKILL) on the local engine, resumed on Ray: the plan is the engines'."""
    _reseed(engine)
    _rescore(engine, settings, rm.V1, "local")
    uninterrupted = _state(engine)

    _reseed(engine)
    written = _kill_when_blocks_done(engine, settings, blocks=2)
    assert 2 * BLOCK <= written < N_POSTS - 1  # killed midway
    plan = plan_run(engine, rm.V1, Selection(), block_size=BLOCK)
    assert plan.resumed and plan.done_posts >= 2 * BLOCK
    resumed = _rescore(engine, settings, rm.V1, "ray")
    # Nothing written before the kill is processed again, nothing is missed.
    assert resumed.posts == N_POSTS - 1 - written
    _assert_same(uninterrupted, _state(engine))
    assert _rescore(engine, settings, rm.V1, "ray").posts == 0
