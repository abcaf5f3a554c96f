"""Keeps the feed to the requested circle.

The rule (docs/ranking.md, "Scope"): a circle's feed serves that circle's posts only —
by the circle's kind (``query.scope``, from ``serving/circle_scopes.py``): a brand circle
its own posts, an industry circle its member brand circles', an interest circle its
topics' posts wherever posted. A given candidate out of scope is removed
(``other_circle``); so is a friend's post out of scope, unless the request or its arm sets
``friends_any_circle`` — then a friend's post (and only a friend's) may come from any
circle, at its viewer-relative level (L1 for a friend's L2/L3 post).
"""

from __future__ import annotations

import numpy as np

from quanzi.models.ranking.candidates import CandidateSet
from quanzi.models.ranking.query import FeedQuery


class CircleScopeFilter:
    name = "other_circle"

    def keep(self, query: FeedQuery, candidates: CandidateSet) -> np.ndarray:
        col = candidates.cols["circle_id"]
        if query.scope is None:
            mine = col == query.circle_id
        else:
            circles, posts = query.scope_circles, query.scope_posts
            mine = np.fromiter(
                (c in circles or p in posts for c, p in zip(col, candidates.post_ids, strict=True)),
                dtype=bool,
                count=len(col),
            )
        if query.params.friends_any_circle:
            return mine | candidates.cols["is_friend"]
        return mine
