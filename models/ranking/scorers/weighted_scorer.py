"""The weighted scorer: a sum of weighted features, each contribution kept for the reasons.

Features (each roughly in [0, 1]):
- quality: the quality model's score;
- trust: the value of the viewer-relative level (L1 lift for friends);
- engagement: Beta-smoothed weighted actions per impression, squashed to [0, 1);
- freshness: exponential decay with the configured half-life;
- interest: cosine between the viewer's interest vector and the post embedding;
- phase: campaign-phase affinity (creator posts, verified purchases, detailed posts);
- editorial: log of the editor's boost;
- negative author: a penalty when the viewer hid or reported this author before;
- content type: how well the post's type (guide, share, usage, after-sales question) fits
  the campaign phase (``content_type_term``: the learned scorer adds the same term).
"""

from __future__ import annotations

import numpy as np

from quanzi.models.ranking.candidates import CandidateSet
from quanzi.models.ranking.components import Scored
from quanzi.models.ranking.params import RankingParams
from quanzi.models.ranking.query import FeedQuery
from quanzi.models.ranking.shared_features import (
    content_type_affinity,
    phase_affinity,
    trust_value,
)


def content_type_term(query: FeedQuery, candidates: CandidateSet) -> np.ndarray:
    """``w_content_type`` × the fit of each post's content type to the campaign phase."""
    affinity = content_type_affinity(query.phase, candidates.cols["ctype"])
    return (query.params.w_content_type * affinity).astype(np.float32, copy=False)


class WeightedScorer:
    name = "weighted"

    def score(self, query: FeedQuery, candidates: CandidateSet) -> Scored:
        contributions = self.contributions(query, candidates, query.params)
        contributions["content_type"] = content_type_term(query, candidates)
        scores = np.zeros(len(candidates), dtype=np.float32)
        for values in contributions.values():
            scores += values
        if not np.isfinite(scores).all():
            raise ValueError("non-finite ranking score: check the hydrated features")
        return Scored(scores, contributions)

    def contributions(
        self, query: FeedQuery, candidates: CandidateSet, p: RankingParams
    ) -> dict[str, np.ndarray]:
        """Each feature's weighted term under ``p`` (``(n,)`` float32 per feature)."""
        c = candidates.cols
        n = len(candidates)
        f32 = np.float32
        trust = trust_value(c["viewer_level"], p.trust_values, f32)
        rate = np.maximum(
            (c["weighted_actions"] + p.engagement_prior_a)
            / (c["impressions"] + (p.engagement_prior_a + p.engagement_prior_b)),
            0.0,
        )
        engagement = rate / (1.0 + rate)
        age_hours = np.maximum((query.now.timestamp() - c["created_ts"]) / 3600.0, 0.0)
        freshness = np.exp2(-age_hours / p.freshness_half_life_hours)
        vectors = candidates.embeddings if query.viewer.interest is not None and n else None
        if vectors is not None:
            interest = np.clip(vectors @ query.viewer.interest, 0.0, 1.0)
        else:
            interest = np.zeros(n, dtype=f32)
        phase = phase_affinity(query.phase, c)
        editorial = np.log(np.maximum(c["boost"], 1e-3))
        return {
            "quality": (p.w_quality * c["quality"]).astype(f32, copy=False),
            "trust": (p.w_trust * trust).astype(f32, copy=False),
            "engagement": (p.w_engagement * engagement).astype(f32, copy=False),
            "freshness": (p.w_freshness * freshness).astype(f32),
            "interest": (p.w_interest * interest).astype(f32, copy=False),
            "phase": (p.w_phase * phase).astype(f32),
            "editorial": (p.w_editorial * editorial).astype(f32, copy=False),
            "negative_author": (-p.negative_author_penalty * c["negative_author"]).astype(f32),
        }
