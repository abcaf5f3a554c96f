"""Keeps the feed to the requested circle.

The rule (docs/ranking.md, "Scope"): a circle's feed serves that circle's posts only. A
given candidate from another circle is removed (``other_circle``); so is a friend's post
from another circle, unless the request or its arm sets ``friends_any_circle`` — then a
friend's post (and only a friend's) may come from any circle, at its viewer-relative
level (L1 for a friend's L2/L3 post).
"""

from __future__ import annotations

import numpy as np

from quanzi.models.ranking.candidates import CandidateSet
from quanzi.models.ranking.query import FeedQuery


class CircleScopeFilter:
    name = "other_circle"

    def keep(self, query: FeedQuery, candidates: CandidateSet) -> np.ndarray:
        mine = candidates.cols["circle_id"] == query.circle_id
        if query.params.friends_any_circle:
            return mine | candidates.cols["is_friend"]
        return mine
