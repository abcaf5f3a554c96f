"""The database-backed feed store: what a full load holds and what each refresh picks up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import update

from quanzi.models.index.sync import log_changes, write_embeddings
from quanzi.models.ranking.base_levels import default_base_level
from quanzi.models.ranking.candidates import CandidateSet
from quanzi.models.ranking.feed_snapshot import SnapshotFeedStore
from quanzi.models.ranking.params import INTERACTION_WEIGHTS
from quanzi.serving.feed_snapshot_sync import FeedStoreSync, parse_level
from quanzi.storage.orm import Post


def _hydrated(store: SnapshotFeedStore, ids: list[str]) -> CandidateSet:
    cands = CandidateSet.from_ids(ids)
    store.hydrate(cands)
    return cands


@pytest.fixture
def world(factory):
    """One circle: an ordinary buyer, a certified creator, a merchant, a viewer."""
    f = factory
    circle = f.circle(id="c1")
    buyer = f.user(id="u_buyer")
    creator = f.user(id="u_creator", kind="creator", creator_certified=True)
    merchant = f.user(id="u_merchant", kind="merchant")
    viewer = f.user(id="u_viewer")
    item = f.item(circle)
    order = f.order(buyer, item)
    verified = f.post(circle, buyer, id="p_verified", order_id=order.id, item_id=item.id)
    plain = f.post(circle, buyer, id="p_plain")
    promo = f.post(circle, merchant, id="p_promo")
    review = f.post(circle, creator, id="p_creator")
    f.session.commit()
    return dict(
        f=f,
        circle=circle,
        buyer=buyer,
        creator=creator,
        merchant=merchant,
        viewer=viewer,
        verified=verified,
        plain=plain,
        promo=promo,
        review=review,
    )


def test_unscored_posts_get_provenance_levels_never_trusted_without_evidence(world, engine) -> None:
    store = FeedStoreSync(engine).full_load()
    c = _hydrated(store, ["p_verified", "p_plain", "p_promo", "p_creator"])
    assert list(c.cols["base_level"]) == [3, 4, 5, 4]
    assert list(c.cols["verified"]) == [True, False, False, False]
    assert list(c.cols["creator"]) == [False, False, False, True]
    assert np.allclose(c.cols["quality"], 0.5)  # neutral until the quality model scores it
    assert default_base_level("user", certified=True, verified=True) == 2


def test_latest_model_scores_override_the_defaults(world, engine) -> None:
    f = world["f"]
    f.score(world["plain"], model_name="quality", model_version="1", score=0.2)
    f.score(world["plain"], model_name="quality", model_version="2", score=0.9, payload={"tier": 3})
    f.score(
        world["plain"],
        model_name="trust",
        model_version="7",
        score=None,
        label="L2",
        payload={"level": 2, "probs": {}},
    )
    f.score(
        world["promo"], model_name="trust", model_version="7", score=None, payload={"level": "L6"}
    )
    f.session.commit()
    store = FeedStoreSync(engine).full_load()
    c = _hydrated(store, ["p_plain", "p_promo"])
    assert c.cols["quality"][0] == pytest.approx(0.9) and c.cols["tier"][0] == 3
    assert list(c.cols["base_level"]) == [2, 6]
    assert store.model_versions == {"quality": "2", "trust": "7"}


def test_trust_levels_parse_from_payload_label_or_score() -> None:
    assert parse_level({"level": 3}, None, None) == 3
    assert parse_level(None, "L5", None) == 5
    assert parse_level({}, None, 4.0) == 4
    assert parse_level({"level": 1}, None, None) == 2  # L1 is never a post's own level
    assert parse_level({}, "junk", None) is None


def test_engagement_counts_and_editor_boosts(world, engine) -> None:
    f, viewer, plain = world["f"], world["viewer"], world["plain"]
    for kind in ("impression", "impression", "impression", "click", "like", "hide"):
        f.interaction(viewer, plain, kind)
    f.override(world["verified"], action="boost", value=3.0)
    f.override(
        world["promo"], action="boost", value=5.0, expires_at=datetime.now(UTC) - timedelta(days=1)
    )  # expired: ignored
    f.session.commit()
    store = FeedStoreSync(engine).full_load()
    c = _hydrated(store, ["p_plain", "p_verified", "p_promo"])
    w = INTERACTION_WEIGHTS
    assert c.cols["impressions"][0] == 3
    assert c.cols["weighted_actions"][0] == pytest.approx(w["click"] + w["like"] + w["hide"])
    assert list(c.cols["boost"]) == [1.0, 3.0, 1.0]


def test_refresh_applies_logged_changes_new_scores_and_interactions(world, engine) -> None:
    f = world["f"]
    sync = FeedStoreSync(engine, scan_every_s=3600)
    store = sync.full_load()
    new = f.post(world["circle"], world["buyer"], id="p_new", created_at=datetime.now(UTC))
    log_changes(f.session, ["p_new"])
    f.session.execute(update(Post).where(Post.id == "p_plain").values(status="reject"))
    log_changes(f.session, ["p_plain"])
    f.score(world["verified"], model_name="quality", score=0.8)
    f.interaction(world["viewer"], new, "share")
    f.session.commit()
    assert "p_new" not in store
    report = sync.refresh()
    assert sync.store is store and report.posts == 3
    c = _hydrated(store, ["p_new", "p_plain", "p_verified"])
    assert list(c.cols["status"]) == ["pass", "reject", "pass"]
    assert c.cols["quality"][2] == pytest.approx(0.8)
    assert c.cols["weighted_actions"][0] == pytest.approx(INTERACTION_WEIGHTS["share"])
    since = 0.0
    assert "p_plain" not in store.recent_posts("c1", since, 10)
    assert store.recent_posts("c1", since, 1) == ["p_new"]


def test_periodic_scan_sees_posts_nobody_logged_and_deletions(world, engine) -> None:
    f = world["f"]
    sync = FeedStoreSync(engine, scan_every_s=0.0)
    store = sync.full_load()
    f.post(world["circle"], world["creator"], id="p_unlogged", created_at=datetime.now(UTC))
    f.session.delete(world["promo"])
    log_changes(f.session, ["p_promo"])
    f.session.commit()
    sync.refresh()
    assert "p_unlogged" in store
    c = _hydrated(store, ["p_promo"])
    assert c.cols["status"][0] == "removed"


def test_recent_friends_and_similar_lookups_come_from_the_snapshot(world, engine) -> None:
    f = world["f"]
    now = datetime.now(UTC)
    for i, post in enumerate([world["verified"], world["plain"], world["review"]]):
        post.created_at = now - timedelta(hours=10 * (i + 1))
    f.session.flush()
    write_embeddings(
        f.session,
        "enc-1",
        ["p_verified", "p_plain", "p_creator"],
        np.array([[1, 0, 0], [0.8, 0.6, 0], [0, 0, 1]], dtype=np.float32),
    )
    f.session.commit()
    store = FeedStoreSync(engine).full_load()
    assert store.encoder_version == "enc-1"
    since = (now - timedelta(hours=25)).timestamp()
    assert store.recent_posts("c1", since, 10) == ["p_verified", "p_plain"]
    assert store.posts_by_authors(frozenset({"u_buyer", "u_creator"}), 0.0, 2) == [
        "p_verified",
        "p_plain",
    ]
    assert store.similar_posts(np.array([0, 0, 1], dtype=np.float32), 1, "c1") == ["p_creator"]
    assert store.similar_posts(np.array([1, 0, 0], dtype=np.float32), 2, "c1") == [
        "p_verified",
        "p_plain",
    ]
    c = _hydrated(store, ["p_plain", "p_promo"])
    assert c.embeddings is not None and c.embeddings.shape == (2, 3)
    assert np.allclose(c.embeddings[1], 0.0)  # no vector: zeros, never an error


def test_hydrating_unknown_posts_keeps_safe_defaults(world, engine) -> None:
    store = FeedStoreSync(engine).full_load()
    c = _hydrated(store, ["nope"])
    assert c.cols["status"][0] == "pending" and c.cols["base_level"][0] == 6


def _snapshot(n: int, now: float) -> SnapshotFeedStore:
    """``n`` passed posts of circle c1, one an hour (p0 newest); post i points along axis
    i % 3, tilted by 0.05·i towards a fourth axis (so newer posts match their axis better)."""
    import pandas as pd

    store = SnapshotFeedStore(similar_window=4)
    ids = [f"p{i}" for i in range(n)]
    store.upsert_posts(
        pd.DataFrame(
            {
                "id": ids,
                "circle_id": "c1",
                "author_id": "u1",
                "status": "pass",
                "created_ts": [now - 3600.0 * i for i in range(n)],
            }
        )
    )
    store.circles = frozenset({"c1"})
    vectors = np.eye(4, dtype=np.float32)[[i % 3 for i in range(n)]]
    vectors[:, 3] = 0.05 * np.arange(n)
    store.set_embeddings(ids, vectors)
    return store


def test_similar_search_scans_only_the_circles_newest_window_within_the_age_limit() -> None:
    now = 1_800_000_000.0
    store = _snapshot(8, now)
    axis0 = np.array([1, 0, 0, 0], dtype=np.float32)
    # window = the 4 newest (p0..p3); p0 and p3 lie on axis 0, p6 is outside the window
    assert store.similar_posts(axis0, 2, "c1") == ["p0", "p3"]
    # the age cut: only posts created in the last 2.5 h (p0..p2) are searched
    assert store.similar_posts(axis0, 2, "c1", since_ts=now - 2.5 * 3600)[0] == "p0"
    assert "p3" not in store.similar_posts(axis0, 3, "c1", since_ts=now - 2.5 * 3600)
    assert store.similar_posts(axis0, 2, "c1", since_ts=now + 60) == []
    assert store.similar_posts(axis0, 2, "nope") == []


def test_similar_window_follows_new_vectors_status_changes_and_new_posts() -> None:
    import pandas as pd

    now = 1_800_000_000.0
    store = _snapshot(8, now)
    axis2 = np.array([0, 0, 1, 0], dtype=np.float32)
    assert store.similar_posts(axis2, 1, "c1") == ["p2"]
    store.set_embeddings(["p1"], np.array([[0, 0.2, 1, 0]], dtype=np.float32))  # new vector
    assert store.similar_posts(axis2, 2, "c1") == ["p2", "p1"]
    store.mark_removed(["p2"])  # no longer passed: out of the window, p4 moves in
    assert store.similar_posts(axis2, 1, "c1") == ["p1"]
    store.upsert_posts(
        pd.DataFrame(
            {
                "id": ["p_new"],
                "circle_id": "c1",
                "author_id": "u2",
                "status": "pass",
                "created_ts": [now + 1.0],
            }
        )
    )
    store.set_embeddings(["p_new"], axis2[None, :])
    assert store.similar_posts(axis2, 1, "c1") == ["p_new"]
