"""The viewer loader: friends, history, negative feedback, interest vector, per-viewer cache."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from quanzi.models.index.sync import write_embeddings
from quanzi.models.ranking.viewer_loader import ViewerLoader, build_viewer_context
from quanzi.serving.feed_snapshot_sync import FeedStoreSync
from quanzi.storage.orm import Circle, User


@pytest.fixture
def history(factory):
    f = factory
    circle = f.circle(id="c1")
    viewer, friend, other, spammer = (f.user(id=i) for i in ("v", "u_f", "u_o", "u_spam"))
    f.friends(viewer, friend)
    f.user_relation(viewer, other, "follow")  # a follow is not a friendship
    liked = f.post(circle, friend, id="p_liked")
    clicked = f.post(circle, other, id="p_clicked")
    hidden = f.post(circle, other, id="p_hidden")
    spam = f.post(circle, spammer, id="p_spam")
    seen_only = f.post(circle, other, id="p_seen")
    for post in (liked, clicked, hidden, spam, seen_only):
        f.interaction(viewer, post, "impression")
    f.interaction(viewer, liked, "like")
    f.interaction(viewer, clicked, "click")
    f.interaction(viewer, hidden, "hide")
    f.interaction(viewer, spam, "report")
    write_embeddings(
        f.session, "enc", ["p_liked", "p_clicked"], np.array([[1, 0], [0, 1]], dtype=np.float32)
    )
    f.session.commit()
    return f


def test_viewer_context_from_the_database(history, engine) -> None:
    store = FeedStoreSync(engine).full_load()
    ctx = ViewerLoader(engine).load("v", store, as_of=history.tick())
    assert ctx.friends == {"u_f"}
    assert ctx.seen_posts == {"p_liked", "p_clicked", "p_hidden", "p_spam", "p_seen"}
    assert ctx.negative_posts == {"p_hidden", "p_spam"}
    assert ctx.negative_authors == {"u_o", "u_spam"}
    assert ctx.blocked_authors == {"u_spam"}  # reported, not merely hidden
    assert set(ctx.engaged_posts) == {"p_liked", "p_clicked"}
    assert ctx.interest is not None
    assert np.allclose(ctx.interest, np.array([1, 1]) / np.sqrt(2), atol=1e-6)


def test_history_after_as_of_is_not_used(history, engine) -> None:
    store = FeedStoreSync(engine).full_load()
    before_all = history.start - timedelta(minutes=1)
    ctx = ViewerLoader(engine).load("v", store, as_of=before_all)
    assert not ctx.seen_posts and ctx.interest is None and ctx.friends == {"u_f"}


def test_unknown_viewer_gets_an_empty_context(engine) -> None:
    ctx = ViewerLoader(engine).load("ghost", FeedStoreSync(engine).full_load())
    assert ctx.viewer_id == "ghost" and not ctx.friends and ctx.interest is None


def test_contexts_are_cached_per_viewer_until_invalidated(history, engine) -> None:
    store = FeedStoreSync(engine).full_load()
    loader = ViewerLoader(engine, ttl_s=60)
    first = loader.load("v", store)
    history.friends(history.user(id="v2"), history.session.get(User, "v"))
    history.session.commit()
    assert loader.load("v", store) is first  # within the TTL: no SQL
    loader.invalidate("v")
    assert loader.load("v", store).friends == {"u_f", "v2"}
    uncached = ViewerLoader(engine, ttl_s=0)
    assert uncached.load("v", store) is not uncached.load("v", store)


def test_hidden_posts_do_not_count_as_interest() -> None:
    class Vectors:
        def vectors_of(self, ids):
            return np.array([[1.0, 0.0] if p == "a" else [0.0, 1.0] for p in ids])

    ctx = build_viewer_context(
        "v", ["v", "f"], [("b", "hide", "x"), ("b", "click", "x"), ("a", "like", "y")], Vectors()
    )
    assert ctx.engaged_posts == ("a",) and np.allclose(ctx.interest, [1.0, 0.0])
    assert ctx.friends == {"f"}  # the viewer is never their own friend


def test_change_feed_brings_cached_contexts_up_to_date(history, engine) -> None:
    sync = FeedStoreSync(engine)
    store = sync.full_load()
    loader = ViewerLoader(engine, ttl_s=600)
    sync.on_viewer_changes = lambda rows, users: loader.apply(rows, sync.store, users)
    before = loader.load("v", store)
    circle, other = history.session.get(Circle, "c1"), history.session.get(User, "u_o")
    fresh = history.post(circle, other, id="p_new")
    history.interaction(history.session.get(User, "v"), fresh, "impression")
    history.interaction(history.session.get(User, "v"), fresh, "report")
    history.session.commit()
    sync.refresh()
    after = loader.load("v", store)  # no SQL: the change feed updated the cached context
    assert after is not before
    assert "p_new" in after.seen_posts and "p_new" in after.negative_posts
    assert "u_o" in after.blocked_authors and "u_o" not in before.blocked_authors
    # A new friendship drops the cached context, so the next load reads the new graph.
    history.friends(history.user(id="v3"), history.session.get(User, "v"))
    history.session.commit()
    sync.refresh()
    assert loader.peek("v") is None
    assert "v3" in loader.load("v", store).friends


def test_impressions_only_keep_the_interest_vector() -> None:
    class Vectors:
        calls = 0

        def vectors_of(self, ids):
            Vectors.calls += 1
            return np.ones((len(ids), 2))

    from quanzi.models.ranking.viewer_loader import extend_viewer_context

    ctx = build_viewer_context("v", [], [("a", "like", "x")], Vectors())
    calls = Vectors.calls
    seen = extend_viewer_context(ctx, [("b", "impression", "y")], Vectors())
    assert seen.seen_posts == {"b"} and seen.interest is ctx.interest
    assert Vectors.calls == calls  # no vectors read for impressions
    liked = extend_viewer_context(seen, [("c", "like", "y")], Vectors())
    assert liked.engaged_posts == ("c", "a") and Vectors.calls == calls + 1


def test_a_context_read_during_a_change_is_not_cached(history, engine) -> None:
    store = FeedStoreSync(engine).full_load()
    loader = ViewerLoader(engine, ttl_s=600)
    real_read = loader._read

    def read_racing_a_change(*args):
        ctx = real_read(*args)
        loader.apply([("v", "p_seen", "impression", "u_o")], store)  # lands mid-read
        return ctx

    loader._read = read_racing_a_change  # type: ignore[method-assign]
    loader.load("v", store)
    assert loader.peek("v") is None
