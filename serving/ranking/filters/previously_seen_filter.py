"""Removes posts the viewer already saw (when the request asks for it) or asked to exclude."""

from __future__ import annotations

import numpy as np

from quanzi.serving.ranking.candidates import CandidateSet
from quanzi.serving.ranking.query import FeedQuery


class PreviouslySeenFilter:
    name = "previously_seen"

    def keep(self, query: FeedQuery, candidates: CandidateSet) -> np.ndarray:
        drop = query.exclude_ids | (query.viewer.seen_posts if query.exclude_seen else frozenset())
        return np.fromiter((p not in drop for p in candidates.post_ids), bool, len(candidates))
