"""Removes posts that did not pass moderation (review, reject, pending, removed)."""

from __future__ import annotations

import numpy as np

from quanzi.models.ranking.candidates import CandidateSet
from quanzi.models.ranking.query import FeedQuery


class ModerationFilter:
    name = "moderation"

    def keep(self, query: FeedQuery, candidates: CandidateSet) -> np.ndarray:
        return candidates.cols["status"] == "pass"
