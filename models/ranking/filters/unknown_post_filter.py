"""Removes candidate ids the store does not know (a given id that was never ingested, or
not yet synced): reported as ``unknown``, not as a moderation removal."""

from __future__ import annotations

import numpy as np

from quanzi.models.ranking.candidates import CandidateSet
from quanzi.models.ranking.query import FeedQuery


class UnknownPostFilter:
    name = "unknown"

    def keep(self, query: FeedQuery, candidates: CandidateSet) -> np.ndarray:
        return candidates.cols["known"]
