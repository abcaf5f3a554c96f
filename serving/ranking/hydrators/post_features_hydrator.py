"""Post-level features from the store: scores, author, engagement, embedding."""

from __future__ import annotations

from quanzi.serving.ranking.candidates import CandidateSet
from quanzi.serving.ranking.query import FeedQuery
from quanzi.serving.ranking.store import FeedStore


class PostFeaturesHydrator:
    name = "post_features"

    def hydrate(self, query: FeedQuery, store: FeedStore, candidates: CandidateSet) -> None:
        store.hydrate(candidates)
