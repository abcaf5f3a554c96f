"""Removes posts the viewer already saw (when the request asks for it) or asked to exclude."""

from __future__ import annotations

import numpy as np

from quanzi.models.ranking.candidates import CandidateSet
from quanzi.models.ranking.membership import isin
from quanzi.models.ranking.query import FeedQuery


class PreviouslySeenFilter:
    name = "previously_seen"

    def keep(self, query: FeedQuery, candidates: CandidateSet) -> np.ndarray:
        drop = isin(candidates.post_ids, query.exclude_ids)
        if query.exclude_seen:
            drop |= isin(candidates.post_ids, query.viewer.seen_posts)
        return ~drop
