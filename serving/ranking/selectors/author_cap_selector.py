"""At most ``author_cap`` posts per author, keeping each author's best-ranked ones."""

from __future__ import annotations

from collections import Counter

import numpy as np

from quanzi.serving.ranking.candidates import CandidateSet
from quanzi.serving.ranking.query import FeedQuery


class AuthorCapSelector:
    name = "author_cap"

    def select(self, query: FeedQuery, candidates: CandidateSet, scores: np.ndarray,
               order: np.ndarray) -> np.ndarray:
        seen: Counter[str] = Counter()
        kept = []
        authors = candidates.cols["author_id"]
        for i in order:
            a = authors[i]
            if seen[a] < query.params.author_cap:
                seen[a] += 1
                kept.append(i)
        return np.asarray(kept, dtype=np.int64)
