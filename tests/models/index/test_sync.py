"""Store ↔ index: reconcile at startup, and two workers' indexes kept in step by the log."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session

from quanzi.models.index import (
    IndexSync,
    PostMeta,
    SearchFilter,
    StoreReader,
    VectorIndex,
    log_changes,
    reconcile,
    write_embeddings,
)
from quanzi.models.index.rebuild import rebuild_from_store
from quanzi.storage.db import make_engine, session_factory
from quanzi.storage.orm import IndexChange, Post

DIM = 8
VERSION = "enc-1"


def _vec(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


@pytest.fixture
def posts(session: Session, factory) -> list[Post]:
    """Ten posts in two circles with embeddings; post 0 has a quality score."""
    circles = [factory.circle(id="a"), factory.circle(id="b")]
    author = factory.user()
    rows = [factory.post(circles[i % 2], author, id=f"post-{i}") for i in range(10)]
    factory.score(rows[0], score=0.9)
    write_embeddings(session, VERSION, [p.id for p in rows], np.stack([_vec(i) for i in range(10)]))
    session.commit()
    return rows


def _worker(engine: Engine) -> IndexSync:
    """A worker: its own engine (as another process would have) and its own index."""
    own = make_engine(engine.url)
    sync = IndexSync(VectorIndex(DIM, VERSION), StoreReader(own, VERSION))
    sync.startup()
    return sync


def test_reconcile_adds_missing_removes_extra_and_fixes_metadata(
    engine: Engine, posts: list[Post]
) -> None:
    index = VectorIndex(DIM, VERSION)
    index.add(["post-1", "ghost"], np.stack([_vec(1), _vec(99)]), [PostMeta(circle_id="zz")] * 2)
    report = reconcile(index, StoreReader(engine, VERSION))
    assert (report.added, report.removed, report.updated) == (9, 1, 1)
    assert sorted(index.ids()) == sorted(p.id for p in posts)
    assert index.meta("post-0") == PostMeta(
        circle_id="a", quality=pytest.approx(0.9), status="pass"
    )
    assert index.meta("post-1").circle_id == "b"
    assert reconcile(index, StoreReader(engine, VERSION)).changed == 0


def test_an_add_through_one_worker_is_visible_in_the_other_after_sync(
    engine: Engine, session: Session, factory, posts: list[Post]
) -> None:
    one, two = _worker(engine), _worker(engine)
    assert len(one.index) == len(two.index) == 10
    # Worker one ingests a post: store + embedding + log in one transaction.
    new = factory.post(factory.circle(id="c"), factory.user(), id="post-new")
    write_embeddings(session, VERSION, [new.id], _vec(50)[None, :])
    session.commit()
    assert two.index.search(_vec(50), 1) != [("post-new", pytest.approx(1.0))]
    for worker in (one, two):
        report = worker.sync()
        assert report.added == 1
        assert worker.index.search(_vec(50), 1) == [("post-new", pytest.approx(1.0, abs=1e-5))]
        assert worker.index.search(_vec(50), 3, SearchFilter.of(circle_id="c"))[0][0] == "post-new"
    assert two.sync().entries == 0  # nothing new: the cursor moved past the entry


def test_status_change_and_deletion_reach_the_other_worker(
    engine: Engine, session: Session, posts: list[Post]
) -> None:
    worker = _worker(engine)
    posts[2].status = "reject"
    session.delete(posts[3])
    log_changes(session, ["post-2", "post-3"])
    session.commit()
    report = worker.sync()
    assert report.removed == 2
    assert "post-2" not in worker.index and "post-3" not in worker.index
    assert all(pid not in {"post-2", "post-3"} for pid, _ in worker.index.search(_vec(2), 10))


def test_re_embedded_post_gets_its_new_vector(
    engine: Engine, session: Session, posts: list[Post]
) -> None:
    worker = _worker(engine)
    write_embeddings(session, VERSION, ["post-4"], _vec(77)[None, :])
    session.commit()
    assert worker.sync().added == 1
    assert worker.index.search(_vec(77), 1)[0][0] == "post-4"
    assert len(worker.index) == 10


def test_an_entry_committed_late_below_the_cursor_is_still_applied(
    engine: Engine, session: Session, factory, posts: list[Post]
) -> None:
    """PostgreSQL can make seq 11 visible before seq 10; the hole is re-asked for."""
    worker = _worker(engine)
    head = worker.index.log_seq
    late = factory.post(factory.circle(id="late"), factory.user(), id="post-late")
    write_embeddings(session, VERSION, [late.id], _vec(60)[None, :])
    session.execute(IndexChange.__table__.delete().where(IndexChange.post_id == "post-late"))
    session.execute(insert(IndexChange), [{"seq": head + 2, "post_id": "post-0"}])
    session.commit()
    worker.sync()
    assert worker.index.log_seq == head + 2 and "post-late" not in worker.index
    session.execute(insert(IndexChange), [{"seq": head + 1, "post_id": "post-late"}])
    session.commit()
    assert worker.sync().added == 1
    assert "post-late" in worker.index


def test_rebuild_from_store_matches_the_synced_index(
    engine: Engine, session: Session, posts: list[Post]
) -> None:
    worker = _worker(engine)
    posts[5].status = "removed"
    log_changes(session, ["post-5"])
    session.commit()
    worker.sync()
    rebuilt = rebuild_from_store(StoreReader(engine, VERSION))
    assert sorted(rebuilt.ids()) == sorted(worker.index.ids())
    assert rebuilt.log_seq == worker.index.log_seq
    queries = np.stack([_vec(i) for i in range(200, 210)])
    assert rebuilt.search_batch(queries, 5) == worker.index.search_batch(queries, 5)


def test_sync_thread_applies_changes_within_the_interval(
    engine: Engine, session: Session, posts: list[Post]
) -> None:
    import time

    worker = _worker(engine)
    worker.interval_s = 0.05
    worker.run_in_thread()
    try:
        posts[6].status = "reject"
        log_changes(session, ["post-6"])
        session.commit()
        deadline = time.monotonic() + 5
        while "post-6" in worker.index and time.monotonic() < deadline:
            time.sleep(0.02)
        assert "post-6" not in worker.index
    finally:
        worker.stop()


def test_write_embeddings_refuses_mismatched_input(session: Session) -> None:
    with pytest.raises(ValueError, match="2 post ids"):
        write_embeddings(session, VERSION, ["a", "b"], np.ones((1, DIM)))
    with pytest.raises(ValueError, match="zero"):
        write_embeddings(session, VERSION, ["a"], np.zeros((1, DIM)))
    assert session_factory  # the module's session helpers stay importable for workers


def test_worker_startup_rebuilds_a_missing_index_then_loads_the_saved_one(
    engine: Engine, posts: list[Post], tmp_path
) -> None:
    from quanzi.models.index import save_index
    from quanzi.models.index.rebuild import open_worker_index
    from quanzi.settings import Settings

    settings = Settings(data_dir=tmp_path / "data", index_sync_interval_ms=200)
    sync, report, rebuilt = open_worker_index(settings, engine, VERSION)
    assert rebuilt is not None and "no index" in rebuilt
    assert len(sync.index) == 10 and report.changed == 0 and sync.interval_s == 0.2
    sync.index.remove(["post-1"])  # drift the saved copy away from the store
    save_index(sync.index, settings.index_dir)
    again, report, rebuilt = open_worker_index(settings, engine, VERSION)
    assert rebuilt is None and report.added == 1 and "post-1" in again.index
