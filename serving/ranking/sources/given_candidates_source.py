"""The candidates the feed service sent with the request."""

from __future__ import annotations

from quanzi.serving.ranking.query import FeedQuery
from quanzi.serving.ranking.store import FeedStore


class GivenCandidatesSource:
    name = "given"

    def enabled(self, query: FeedQuery) -> bool:
        return query.candidate_ids is not None

    def fetch(self, query: FeedQuery, store: FeedStore) -> list[str]:
        return list(query.candidate_ids or ())
