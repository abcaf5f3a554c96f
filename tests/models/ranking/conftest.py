"""A small in-memory circle for ranking tests."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from quanzi.models.ranking.feed_store import InMemoryFeedStore
from quanzi.models.ranking.params import RankingParams
from quanzi.models.ranking.query import FeedQuery, ViewerContext

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
HOUR = 3600.0


def unit(v):
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v)


@pytest.fixture
def store() -> InMemoryFeedStore:
    s = InMemoryFeedStore()
    base = dict(
        circle_id="c1",
        status="pass",
        quality=0.6,
        tier=2,
        base_level=3,
        impressions=100.0,
        weighted_actions=5.0,
    )
    s.add(
        "p_friend",
        unit([1, 0, 0]),
        author_id="u_friend",
        created_ts=NOW.timestamp() - 5 * HOUR,
        **base,
    )
    s.add(
        "p_stranger",
        unit([1, 0.1, 0]),
        author_id="u_stranger",
        created_ts=NOW.timestamp() - 5 * HOUR,
        **base,
    )
    s.add(
        "p_ad",
        unit([0, 1, 0]),
        author_id="u_merchant",
        created_ts=NOW.timestamp() - 1 * HOUR,
        **{**base, "base_level": 5},
    )
    s.add(
        "p_disguised",
        unit([0, 1, 0.1]),
        author_id="u_shill",
        created_ts=NOW.timestamp() - 1 * HOUR,
        **{**base, "base_level": 6},
    )
    s.add(
        "p_rejected",
        unit([0, 0, 1]),
        author_id="u_x",
        created_ts=NOW.timestamp() - 1 * HOUR,
        **{**base, "status": "reject"},
    )
    s.add(
        "p_old",
        unit([0, 0, 1]),
        author_id="u_y",
        created_ts=NOW.timestamp() - 40 * 24 * HOUR,
        **base,
    )
    s.add(
        "p_other_circle",
        unit([0, 0, 1]),
        author_id="u_friend",
        created_ts=NOW.timestamp() - 2 * HOUR,
        **{**base, "circle_id": "c2"},
    )
    return s


def make_query(
    viewer: ViewerContext | None = None,
    *,
    candidate_ids=None,
    limit=20,
    params: RankingParams | None = None,
    exclude_seen=True,
    exclude_ids=frozenset(),
) -> FeedQuery:
    return FeedQuery(
        viewer=viewer or ViewerContext(viewer_id="v1", friends=frozenset({"u_friend"})),
        circle_id="c1",
        limit=limit,
        now=NOW,
        phase="after_sales",
        params=params or RankingParams(),
        candidate_ids=candidate_ids,
        exclude_seen=exclude_seen,
        exclude_ids=exclude_ids,
    )


@pytest.fixture
def query_factory():
    return make_query
