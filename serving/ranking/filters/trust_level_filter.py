"""Removes posts at the trust levels the params drop outright (L6 disguised ads by default)."""

from __future__ import annotations

import numpy as np

from quanzi.serving.ranking.candidates import CandidateSet
from quanzi.serving.ranking.query import FeedQuery


class TrustLevelFilter:
    name = "trust_level"

    def keep(self, query: FeedQuery, candidates: CandidateSet) -> np.ndarray:
        return ~np.isin(candidates.cols["viewer_level"], query.params.drop_trust_levels)
