"""Viewer-relative columns: friendship, the L1 lift, and past negative feedback on the author.

trust-levels.md: a post whose base level is L2 or L3 is L1 for a viewer who is the
author's friend; L4–L6 are never lifted.
"""

from __future__ import annotations

import numpy as np

from quanzi.models.ranking.candidates import CandidateSet
from quanzi.models.ranking.feed_store import FeedStore
from quanzi.models.ranking.membership import isin
from quanzi.models.ranking.query import FeedQuery


class ViewerRelationHydrator:
    name = "viewer_relation"

    def hydrate(self, query: FeedQuery, store: FeedStore, candidates: CandidateSet) -> None:
        authors = candidates.cols["author_id"]
        viewer = query.viewer
        friend = isin(authors, viewer.friends)
        base = candidates.cols["base_level"]
        candidates.cols["is_friend"] = friend
        candidates.cols["viewer_level"] = np.where(friend & (base <= 3), 1, base).astype(np.int8)
        candidates.cols["negative_author"] = isin(authors, viewer.negative_authors)
