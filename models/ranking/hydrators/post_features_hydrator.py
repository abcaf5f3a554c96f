"""Post-level features from the store: scores, author, engagement, embedding."""

from __future__ import annotations

from quanzi.models.ranking.candidates import CandidateSet
from quanzi.models.ranking.feed_store import FeedStore
from quanzi.models.ranking.query import FeedQuery


class PostFeaturesHydrator:
    name = "post_features"

    def hydrate(self, query: FeedQuery, store: FeedStore, candidates: CandidateSet) -> None:
        store.hydrate(candidates)
