"""Fresh posts of the requested circle."""

from __future__ import annotations

from quanzi.serving.ranking.query import FeedQuery
from quanzi.serving.ranking.store import FeedStore

DAY = 86_400.0


class CircleRecentSource:
    name = "circle_recent"

    def __init__(self, limit: int = 400) -> None:
        self.limit = limit

    def enabled(self, query: FeedQuery) -> bool:
        return query.candidate_ids is None

    def fetch(self, query: FeedQuery, store: FeedStore) -> list[str]:
        since = query.now.timestamp() - query.params.max_age_days * DAY
        return store.recent_posts(query.circle_id, since, self.limit)
