"""The candidates the feed service sent with the request."""

from __future__ import annotations

from quanzi.models.ranking.feed_store import FeedStore
from quanzi.models.ranking.query import FeedQuery


class GivenCandidatesSource:
    name = "given"

    def enabled(self, query: FeedQuery) -> bool:
        return query.candidate_ids is not None

    def fetch(self, query: FeedQuery, store: FeedStore) -> list[str]:
        return list(query.candidate_ids or ())
