"""Removes posts the viewer hid or reported, and posts by authors the viewer blocked."""

from __future__ import annotations

import numpy as np

from quanzi.models.ranking.candidates import CandidateSet
from quanzi.models.ranking.membership import isin
from quanzi.models.ranking.query import FeedQuery


class NegativeFeedbackFilter:
    name = "negative_feedback"

    def keep(self, query: FeedQuery, candidates: CandidateSet) -> np.ndarray:
        v = query.viewer
        return ~(
            isin(candidates.post_ids, v.negative_posts)
            | isin(candidates.cols["author_id"], v.blocked_authors)
        )
