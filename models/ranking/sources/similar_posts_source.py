"""Posts similar to what the viewer engaged with (nearest neighbours of their interest)."""

from __future__ import annotations

from quanzi.models.ranking.feed_store import FeedStore
from quanzi.models.ranking.query import FeedQuery


class SimilarPostsSource:
    name = "similar"

    def __init__(self, k: int | None = None) -> None:
        self.k = k  # None: the request's ``params.similar_limit``

    def enabled(self, query: FeedQuery) -> bool:
        return query.candidate_ids is None and query.viewer.interest is not None

    def fetch(self, query: FeedQuery, store: FeedStore) -> list[str]:
        assert query.viewer.interest is not None
        return store.similar_posts(
            query.viewer.interest,
            self.k or query.params.similar_limit,
            query.circle_id,
            query.since_ts,
        )
