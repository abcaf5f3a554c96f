"""The weighted scorer: a sum of weighted features, each contribution kept for the reasons.

Features (each roughly in [0, 1]):
- quality: the quality model's score;
- trust: the value of the viewer-relative level (L1 lift for friends);
- engagement: Beta-smoothed weighted actions per impression, squashed to [0, 1);
- freshness: exponential decay with the configured half-life;
- interest: cosine between the viewer's interest vector and the post embedding;
- phase: campaign-phase affinity (creator posts, verified purchases, detailed posts);
- editorial: log of the editor's boost;
- negative author: a penalty when the viewer hid or reported this author before.
"""

from __future__ import annotations

import numpy as np

from quanzi.serving.ranking.candidates import CandidateSet
from quanzi.serving.ranking.components import Scored
from quanzi.serving.ranking.params import PHASE_AFFINITY
from quanzi.serving.ranking.query import FeedQuery


class WeightedScorer:
    name = "weighted"

    def score(self, query: FeedQuery, candidates: CandidateSet) -> Scored:
        p = query.params
        c = candidates.cols
        n = len(candidates)
        trust_values = np.asarray(p.trust_values, dtype=np.float32)
        trust = trust_values[np.clip(c["viewer_level"].astype(int) - 1, 0, 5)]
        rate = (c["weighted_actions"] + p.engagement_prior_a) / (
            c["impressions"] + p.engagement_prior_a + p.engagement_prior_b)
        engagement = np.clip(rate, 0.0, None) / (1.0 + np.clip(rate, 0.0, None))
        age_hours = np.clip((query.now.timestamp() - c["created_ts"]) / 3600.0, 0.0, None)
        freshness = np.power(0.5, age_hours / p.freshness_half_life_hours)
        if query.viewer.interest is not None and candidates.embeddings is not None and n:
            interest = np.clip(candidates.embeddings @ query.viewer.interest, 0.0, 1.0)
        else:
            interest = np.zeros(n, dtype=np.float32)
        aff = PHASE_AFFINITY[query.phase]
        phase = (aff["creator"] * c["creator"] + aff["verified"] * c["verified"]
                 + aff["detailed"] * (c["tier"] >= 3)) / 3.0
        editorial = np.log(np.clip(c["boost"], 1e-3, None))
        contributions = {
            "quality": p.w_quality * c["quality"],
            "trust": p.w_trust * trust,
            "engagement": p.w_engagement * engagement,
            "freshness": p.w_freshness * freshness,
            "interest": p.w_interest * interest,
            "phase": p.w_phase * phase,
            "editorial": p.w_editorial * editorial,
            "negative_author": -p.negative_author_penalty * c["negative_author"],
        }
        contributions = {k: np.asarray(v, dtype=np.float32) for k, v in contributions.items()}
        scores = np.sum(np.stack(list(contributions.values())), axis=0) if n else np.zeros(0)
        if not np.all(np.isfinite(scores)):
            raise ValueError("non-finite ranking score: check the hydrated features")
        return Scored(scores.astype(np.float32), contributions)
