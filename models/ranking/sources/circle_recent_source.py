"""Fresh posts of the requested circle."""

from __future__ import annotations

from quanzi.models.ranking.feed_store import FeedStore
from quanzi.models.ranking.query import FeedQuery


class CircleRecentSource:
    name = "circle_recent"

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit  # None: the request's ``params.circle_recent_limit``

    def enabled(self, query: FeedQuery) -> bool:
        return query.candidate_ids is None

    def fetch(self, query: FeedQuery, store: FeedStore) -> list[str]:
        return store.recent_posts(
            query.circle_id, query.since_ts, self.limit or query.params.circle_recent_limit
        )
