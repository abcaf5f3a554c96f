"""The learned scorer: the registered ranker's linear score, with the weighted scorer as
the fallback.

Chosen per request by ``RankingParams.scorer`` (``"learned"``), so an experiment arm can
run it beside the weighted control. Without a loaded ranker (no ``quanzi-ranker``
champion yet, or it failed to load) the request is scored by the weighted scorer, and the
model registry lists the ranker as degraded; ``last_used`` says which scorer ran.

Each feature's contribution is one additive term of the score (``models/ranker.py``), so
the "why it ranked" reasons keep their meaning.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from quanzi.models.ranking.candidates import CandidateSet
from quanzi.models.ranking.components import Scored
from quanzi.models.ranking.query import FeedQuery
from quanzi.models.ranking.ranker_features import ranker_features
from quanzi.models.ranking.scorers.weighted_scorer import WeightedScorer

log = logging.getLogger(__name__)

RankerSource = Callable[[], Any | None]  # → the current ``LinearRanker`` or None


class LearnedScorer:
    name = "learned"

    def __init__(
        self, ranker: RankerSource | Any | None = None, fallback: WeightedScorer | None = None
    ) -> None:
        self._ranker = ranker if callable(ranker) else (lambda: ranker)
        self.fallback = fallback or WeightedScorer()
        self._warned = False

    def ranker(self) -> Any | None:
        """The ranker in force (None when none is loaded)."""
        return self._ranker()

    def score(self, query: FeedQuery, candidates: CandidateSet) -> Scored:
        if query.params.scorer != "learned":
            return self.fallback.score(query, candidates)
        ranker = self._ranker()
        if ranker is None:
            if not self._warned:  # once per worker: the registry's degraded list says why
                log.warning(
                    "scorer=learned asked but no ranker is loaded; using the weighted scorer"
                )
                self._warned = True
            return self.fallback.score(query, candidates)
        # Only the model's own features, in its order: (n, f)
        contrib = ranker.contributions_of(ranker_features(query, candidates, ranker.features))
        scores = contrib.sum(axis=1).astype(np.float32)
        if not np.isfinite(scores).all():
            raise ValueError("non-finite learned score: check the hydrated features")
        by_feature = contrib.T.astype(np.float32)  # (f, n): one copy, then row views
        contributions = {name: by_feature[j] for j, name in enumerate(ranker.features)}
        return Scored(
            scores,
            contributions,
            scorer=f"learned-v{getattr(ranker, 'version', None) or 'unknown'}",
        )
