"""The learned scorer: the registered ranker's linear score, with the weighted scorer as
the fallback.

Chosen per request by ``RankingParams.scorer`` (``"learned"``), so an experiment arm can
run it beside the weighted control. Without a loaded ranker (no ``quanzi-ranker``
champion yet, or it failed to load) the request is scored by the weighted scorer, and the
model registry lists the ranker as degraded; ``last_used`` says which scorer ran.

Each feature's contribution is one additive term of the score (``models/ranker.py``), so
the "why it ranked" reasons keep their meaning.

Experiments under the learned scorer: the model's features are fixed (they must not move
when an experiment overrides a weight), so a request or arm that changes any of the
weighted scorer's params (``SCORE_PARAMS``: weights, trust values, the engagement prior,
the freshness half-life, …) adds, per feature, the difference that change makes to the
weighted score — ``w'·f'(x) − w·f(x)``, zero at the defaults — as a contribution named
``adjust_<feature>``. So ``w_quality: 0`` removes the default quality term and the
``fresh`` arm's 18 h half-life favours fresher posts, under either scorer. The content-type
fit to the campaign phase (``w_content_type``) is added as under the weighted scorer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from quanzi.models.ranking.candidates import CandidateSet
from quanzi.models.ranking.components import Scored
from quanzi.models.ranking.params import SCORE_PARAMS, RankingParams
from quanzi.models.ranking.query import FeedQuery
from quanzi.models.ranking.ranker_features import ranker_features
from quanzi.models.ranking.scorers.weighted_scorer import WeightedScorer, content_type_term

log = logging.getLogger(__name__)
_DEFAULTS = RankingParams()
_DEFAULT_SCORE_PARAMS = tuple(getattr(_DEFAULTS, k) for k in SCORE_PARAMS)

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
        for name, delta in self.adjustments(query, candidates).items():
            contributions[name] = delta
            scores += delta
        contributions["content_type"] = term = content_type_term(query, candidates)
        scores += term
        return Scored(
            scores,
            contributions,
            scorer=f"learned-v{getattr(ranker, 'version', None) or 'unknown'}",
        )

    def adjustments(self, query: FeedQuery, candidates: CandidateSet) -> dict[str, np.ndarray]:
        """``adjust_<feature>``: what the request's score params change in the weighted
        score, per feature (empty at the defaults: the common request pays nothing)."""
        p = query.params
        if tuple(getattr(p, k) for k in SCORE_PARAMS) == _DEFAULT_SCORE_PARAMS:
            return {}
        now = self.fallback.contributions(query, candidates, p)
        before = self.fallback.contributions(query, candidates, _DEFAULTS)
        out = {}
        for name, values in now.items():
            delta = values - before[name]
            if np.any(delta):
                out[f"adjust_{name}"] = delta.astype(np.float32, copy=False)
        return out
