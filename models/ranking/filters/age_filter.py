"""Removes posts older than ``max_age_days`` and posts dated further in the future than
``future_tolerance_s``."""

from __future__ import annotations

import numpy as np

from quanzi.models.ranking.candidates import CandidateSet
from quanzi.models.ranking.query import FeedQuery


class AgeFilter:
    name = "age"

    def keep(self, query: FeedQuery, candidates: CandidateSet) -> np.ndarray:
        now = query.now.timestamp()
        age = now - candidates.cols["created_ts"]
        return (age >= -query.params.future_tolerance_s) & (
            age <= query.params.max_age_days * 86_400.0
        )
