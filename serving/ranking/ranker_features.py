"""The learned ranker's features: one function shared by training and serving.

Why one module: the offline trainer (``training/tasks_impl/ranker.py``) builds its feature
rows by hydrating logged requests through the same store and viewer context the service
uses and then calling ``ranker_features`` — the very function the ``LearnedScorer`` calls
per request — so the two cannot drift.

Everything here is known at request time from the hydrated candidates, the viewer context
and the query; nothing reads the logged position or the world's hidden truth. Features are
raw (standardisation belongs to the model) and float64, ``(n, len(FEATURES))``:

- age: ``log_age`` (log1p of hours), three freshness decays (half-lives 6 h, 24 h, 72 h),
  and ``age_rank`` (log1p of the post's rank among this request's candidates, newest = 0:
  how far down a newest-first list the post would sit);
- post: ``quality`` score, ``trust`` (value of the viewer-relative level, default
  ``trust_values``), ``level_l1`` (a friend's lifted post), ``merchant`` (L5/L6 base level),
  ``engagement`` (Beta-smoothed weighted actions per impression) and ``log_impressions``,
  ``editorial`` (log boost), ``phase`` (campaign-phase affinity);
- viewer: ``interest`` (cosine with the viewer's interest vector), ``friend``, ``follow``
  (the viewer follows the author), ``negative_author`` (hid or reported this author).
"""

from __future__ import annotations

import numpy as np

from quanzi.serving.ranking.candidates import CandidateSet
from quanzi.serving.ranking.params import PHASE_AFFINITY, RankingParams
from quanzi.serving.ranking.query import FeedQuery

FEATURES: tuple[str, ...] = (
    "log_age", "fresh_6h", "fresh_24h", "fresh_72h", "age_rank", "top_rank",
    "quality", "trust", "level_l1", "merchant", "engagement", "log_impressions",
    "log_actions", "editorial", "phase", "interest", "friend", "follow", "negative_author",
    "quality_x_fresh", "engagement_x_fresh", "engagement_x_age",
)
FRESHNESS_HALF_LIVES_H = (6.0, 24.0, 72.0)
# Fixed engagement prior and trust values: the model's features must not move when an
# experiment overrides the weighted scorer's params.
_DEFAULTS = RankingParams()
_TRUST_VALUES = np.asarray(_DEFAULTS.trust_values, dtype=np.float64)  # L1..L6
_COL = {name: j for j, name in enumerate(FEATURES)}


def ranker_features(query: FeedQuery, candidates: CandidateSet) -> np.ndarray:
    """``(n, len(FEATURES))`` float64 feature rows of hydrated candidates for this query.

    Column-major (each feature is one contiguous write) and free of per-candidate Python
    except C-level set lookups for ``follow`` (skipped when the viewer follows none
    of the authors).
    """
    c = candidates.cols
    n = len(candidates)
    out = np.zeros((n, len(FEATURES)), dtype=np.float64, order="F")
    if n == 0:
        return out
    col = _COL
    created = c["created_ts"].astype(np.float64, copy=False)
    age_h = np.maximum((query.now.timestamp() - created) / 3600.0, 0.0)
    out[:, col["log_age"]] = np.log1p(age_h)
    for name, half_life in zip(("fresh_6h", "fresh_24h", "fresh_72h"),
                               FRESHNESS_HALF_LIVES_H, strict=True):
        out[:, col[name]] = np.exp2(age_h / -half_life)
    rank = np.empty(n, dtype=np.float64)
    rank[np.argsort(-created, kind="stable")] = np.arange(n)
    out[:, col["age_rank"]] = np.log1p(rank)
    out[:, col["top_rank"]] = 1.0 / (1.0 + rank)

    level = c["viewer_level"].astype(np.int64)
    out[:, col["quality"]] = c["quality"]
    out[:, col["trust"]] = _TRUST_VALUES[np.minimum(np.maximum(level - 1, 0), 5)]
    out[:, col["level_l1"]] = level == 1
    out[:, col["merchant"]] = c["base_level"] >= 5
    a, b = _DEFAULTS.engagement_prior_a, _DEFAULTS.engagement_prior_b
    impressions = np.maximum(c["impressions"].astype(np.float64), 0.0)
    actions = c["weighted_actions"].astype(np.float64)
    engagement = (actions + a) / (impressions + a + b)
    out[:, col["engagement"]] = engagement
    out[:, col["log_impressions"]] = np.log1p(impressions)
    out[:, col["log_actions"]] = np.log1p(np.maximum(actions, 0.0))
    out[:, col["editorial"]] = np.log(np.maximum(c["boost"].astype(np.float64), 1e-3))
    aff = PHASE_AFFINITY[query.phase]
    out[:, col["phase"]] = (aff["creator"] * c["creator"] + aff["verified"] * c["verified"]
                            + aff["detailed"] * (c["tier"] >= 3)) / 3.0

    viewer = query.viewer
    if viewer.interest is not None and candidates.embeddings is not None \
            and candidates.embeddings.shape[1] == len(viewer.interest):
        out[:, col["interest"]] = candidates.embeddings @ viewer.interest
    out[:, col["friend"]] = c["is_friend"]
    if viewer.follows and not viewer.follows.isdisjoint(c["author_id"]):
        out[:, col["follow"]] = np.fromiter(map(viewer.follows.__contains__, c["author_id"]),
                                            bool, n)
    out[:, col["negative_author"]] = c["negative_author"]
    # Interactions a linear model cannot form itself: what quality and past engagement are
    # worth depends on the post's age (an old post's engagement rate was earned lower in
    # newest-first lists; a fresh post's quality matters while it is still shown).
    fresh = out[:, col["fresh_24h"]]
    out[:, col["quality_x_fresh"]] = out[:, col["quality"]] * fresh
    out[:, col["engagement_x_fresh"]] = engagement * fresh
    out[:, col["engagement_x_age"]] = engagement * out[:, col["log_age"]]
    if not np.isfinite(out).all():
        raise ValueError("non-finite ranker feature: check the hydrated columns")
    return out
