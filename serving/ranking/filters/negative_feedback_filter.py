"""Removes posts the viewer hid or reported, and posts by authors the viewer blocked."""

from __future__ import annotations

import numpy as np

from quanzi.serving.ranking.candidates import CandidateSet
from quanzi.serving.ranking.query import FeedQuery


class NegativeFeedbackFilter:
    name = "negative_feedback"

    def keep(self, query: FeedQuery, candidates: CandidateSet) -> np.ndarray:
        v = query.viewer
        n = len(candidates)
        post_ok = np.fromiter((p not in v.negative_posts for p in candidates.post_ids), bool, n)
        author_ok = np.fromiter(
            (a not in v.blocked_authors for a in candidates.cols["author_id"]), bool, n)
        return post_ok & author_ok
